// The origin together with the real edge worker (workerd via Miniflare, test/helpers/worker.ts; needs `npm run
// build`): the origin's fp32 student and the edge's int8 student draw the same face (PSNR on decoded pixels), and
// the edge's origin paths (teacher, sizes above the model) against this real origin process, including the
// degraded path once the origin is gone.
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerHandle } from "../helpers/worker.js";
import { startWorker } from "../helpers/worker.js";
import { originOrder } from "../../src/edge/origin-client.js";
import { parseFaceRequest } from "../../src/shared/params.js";
import type { OriginProcess } from "./origin-process.js";
import { TOKEN, startOrigin } from "./origin-process.js";

let origin: OriginProcess;
let edge: WorkerHandle;
let resolution = 0;

beforeAll(async () => {
  origin = await startOrigin();
  const models = (await (await origin.fetch("/v1/models")).json()) as { models: { resolution: number }[] };
  resolution = models.models[0]!.resolution;
  edge = await startWorker({ vars: { ORIGIN_URL: origin.url, ORIGIN_TOKEN: TOKEN, ORIGIN_BREAKER_FAILURES: "1000" } });
});
afterAll(async () => {
  await edge?.dispose();
  await origin?.stop();
});

async function get(url: string): Promise<{ res: Response; png: PNG; bytes: Buffer }> {
  const res = await fetch(url);
  expect(res.status, `${url}: ${res.status}`).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, png: PNG.sync.read(bytes), bytes };
}

function psnr(a: PNG, b: PNG): number {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  let se = 0, n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a.data[i + c]! - b.data[i + c]!;
      se += d * d;
      n++;
    }
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / n));
}

describe("origin fp32 vs edge int8", () => {
  it("the same seeds give the same faces: PSNR >= 30 dB on decoded pixels", async () => {
    const scores: number[] = [];
    const cases = ["alice", "bob@example.com", "42", "zoë"].map((seed) => [seed, resolution] as const)
      .concat([["carol", resolution / 2], ["dan", resolution / 2]]);
    for (const [seed, size] of cases) {
      const q = `size=${size}&psi=0.7`;
      const e = await get(`${edge.url}/face/${encodeURIComponent(seed)}.png?${q}`);
      expect(e.res.headers.get("x-face-source")).toMatch(/^(edge|cache)$/);
      expect(e.res.headers.get("x-face-model")).toMatch(/int8/);
      const o = await origin.fetch(`/v1/face/${encodeURIComponent(seed)}.png?${q}`);
      expect(o.status).toBe(200);
      const op = PNG.sync.read(Buffer.from(await o.arrayBuffer()));
      scores.push(psnr(e.png, op));
    }
    console.log(`origin fp32 vs edge int8 (${cases.map((c) => c[1]).join(",")} px): PSNR ${scores.map((s) => s.toFixed(2)).join(", ")} dB`);
    for (const s of scores) expect(s).toBeGreaterThanOrEqual(30);
  });
});

describe("edge -> origin fallback paths", () => {
  it("model=teacher is fetched from the origin: same bytes and ETag as asking the origin directly", async () => {
    const e = await get(`${edge.url}/face/trudy.png?size=${resolution}&model=teacher`);
    expect(e.res.headers.get("x-face-source")).toBe("origin");
    expect(e.res.headers.get("x-face-model")).toMatch(/\/teacher-fp32$/);
    const o = await origin.fetch(`/v1/face/trudy.png?size=${resolution}&model=teacher`);
    expect(Buffer.from(await o.arrayBuffer()).equals(e.bytes)).toBe(true);
    expect(o.headers.get("etag")).toBe(e.res.headers.get("etag"));
  });

  it("a size above the model's resolution is rendered by the origin", async () => {
    const size = Math.min(1024, resolution * 2);
    const e = await get(`${edge.url}/face/victor.png?size=${size}`);
    expect(e.res.headers.get("x-face-source")).toBe("origin");
    expect([e.png.width, e.png.height]).toEqual([size, size]);
    const o = await origin.fetch(`/v1/face/victor.png?size=${size}`);
    expect(Buffer.from(await o.arrayBuffer()).equals(e.bytes)).toBe(true);
  });

  it("with two origins configured and one of them down, every seed is still served by the live one", async () => {
    const dead = "http://127.0.0.1:9"; // discard port: nothing listens, connections are refused
    const two = await startWorker({ vars: { ORIGIN_URL: `${dead},${origin.url}`, ORIGIN_TOKEN: TOKEN, ORIGIN_BREAKER_FAILURES: "1000" } });
    try {
      const seeds = ["s0", "s1", "s2", "s3", "s4", "s5"];
      // The edge's seed-hash pick puts the dead origin first for some of these seeds, so failover is exercised.
      const firsts = await Promise.all(seeds.map(async (seed) =>
        (await originOrder(parseFaceRequest(`${seed}.png`, new URLSearchParams("model=teacher")), [dead, origin.url]))[0]));
      expect(firsts).toContain(dead);
      expect(firsts).toContain(origin.url);
      for (const seed of seeds) {
        const e = await get(`${two.url}/face/${seed}.png?size=${resolution}&model=teacher`);
        expect(e.res.headers.get("x-face-source")).toBe("origin");
        const o = await origin.fetch(`/v1/face/${seed}.png?size=${resolution}&model=teacher`);
        expect(Buffer.from(await o.arrayBuffer()).equals(e.bytes)).toBe(true);
      }
    } finally {
      await two.dispose();
    }
  });

  it("an edge with the wrong token never passes the origin's 401 through as a face", async () => {
    const bad = await startWorker({ vars: { ORIGIN_URL: origin.url, ORIGIN_TOKEN: "wrong-token" } });
    try {
      const res = await fetch(`${bad.url}/face/walter.png?size=${resolution}&model=teacher`);
      expect(res.headers.get("x-face-source")).not.toBe("origin");
      if (res.status === 200) expect(res.headers.get("x-face-degraded")).toBeTruthy();
      else expect(res.status).toBe(503);
      await res.arrayBuffer();
    } finally {
      await bad.dispose();
    }
  });

  it("with the origin stopped, teacher requests degrade at the edge (short cache, marked)", async () => {
    expect(await origin.stop()).toBe(0);
    const res = await fetch(`${edge.url}/face/mallory.png?size=${resolution}&model=teacher`);
    expect(res.headers.get("x-face-source")).not.toBe("origin");
    if (res.status === 200) {
      expect(res.headers.get("x-face-degraded")).toBeTruthy();
      expect(res.headers.get("cache-control")).not.toMatch(/immutable/);
      expect(PNG.sync.read(Buffer.from(await res.arrayBuffer())).width).toBe(resolution);
    } else {
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBeTruthy();
      await res.arrayBuffer();
    }
  });
});
