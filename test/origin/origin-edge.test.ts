// The origin together with the real edge worker (workerd via Miniflare, harness/worker.ts; needs `npm run
// build`), as two pairs that each run edge and origin on the same model:
// - the default model (FFHQ 1024): the repository's build (mapping and student at the manifest's edge_precision,
//   weights from the static assets) and the origin on the default model (fp32): the same seed gives the same face
//   (PSNR on decoded pixels), sizes the edge does not draw itself (above the serving table's edge_max_size, or
//   levels beyond its wasm budget) come from the origin, and degrade to the edge's largest level once it is gone;
// - the model with a teacher (faces64 while the default has none): an edge built for it and the origin on it: the
//   same faces, model=teacher and sizes above the model through the edge, two origins with one down, a wrong token,
//   and the degraded path once the origin is gone.
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WorkerHandle } from "../../harness/worker.js";
import { startWorker } from "../../harness/worker.js";
import { modelManifest } from "../../harness/models.js";
import { originOrder } from "../../src/edge/origin-client.js";
import { edgeMaxSize, levelForSize } from "../../src/shared/manifest.js";
import { parseFaceRequest } from "../../src/shared/params.js";
import type { OriginProcess } from "../../harness/origin.js";
import { TOKEN, startOrigin, startTeacherOrigin, teacherEdge } from "../../harness/origin.js";

interface EdgeInfo {
  id: string;
  version: string;
  resolution: number;
  provenance: unknown;
  edge: { precision: string; max_size: number | null; levels: { size: number; at_edge: boolean; within_budget: boolean }[] };
}

async function get(url: string): Promise<{ res: Response; png: PNG; bytes: Buffer }> {
  const res = await fetch(url);
  expect(res.status, `${url}: ${res.status}`).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  return { res, png: PNG.sync.read(bytes), bytes };
}

async function edgeInfo(edge: WorkerHandle): Promise<EdgeInfo> {
  return ((await (await fetch(`${edge.url}/v1/models`)).json()) as { models: EdgeInfo[] }).models[0]!;
}

async function originModel(origin: OriginProcess): Promise<{ id: string; version: string; resolution: number }> {
  return ((await (await origin.fetch("/v1/models")).json()) as { models: { id: string; version: string; resolution: number }[] }).models[0]!;
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

/**
 * Each (seed, size) drawn by the edge (onnxruntime-web, the manifest's edge_precision: int8 weights for faces64) and
 * by the origin (onnxruntime-node, fp32): PSNR >= 30 dB on decoded pixels.
 */
async function expectSameFaces(edge: WorkerHandle, origin: OriginProcess, cases: (readonly [string, number])[], info: EdgeInfo) {
  const scores: number[] = [];
  for (const [seed, size] of cases) {
    const q = `size=${size}&psi=0.7`;
    const e = await get(`${edge.url}/face/${encodeURIComponent(seed)}.png?${q}`);
    expect(e.res.headers.get("x-face-source")).toMatch(/^(edge|cache)$/);
    expect(e.res.headers.get("x-face-model")).toBe(`${info.id}@${info.version}/student-${info.edge.precision}`);
    expect(e.res.headers.get("x-face-degraded")).toBeNull();
    const o = await origin.fetch(`/v1/face/${encodeURIComponent(seed)}.png?${q}`);
    expect(o.status).toBe(200);
    expect(o.headers.get("x-face-model")).toMatch(/\/student-fp32$/);
    const op = PNG.sync.read(Buffer.from(await o.arrayBuffer()));
    scores.push(psnr(e.png, op));
  }
  console.log(`${info.id}: origin fp32 vs edge ${info.edge.precision} (${cases.map((c) => c[1]).join(",")} px): PSNR ${scores.map((s) => s.toFixed(2)).join(", ")} dB`);
  for (const s of scores) expect(s).toBeGreaterThanOrEqual(30);
  // Different seeds are different faces by far more than int8 vs fp32 (the tolerance means something).
  const a = await get(`${edge.url}/face/${encodeURIComponent(cases[0]![0])}.png?size=${cases[0]![1]}&psi=0.7`);
  const b = await get(`${edge.url}/face/not-${encodeURIComponent(cases[0]![0])}.png?size=${cases[0]![1]}&psi=0.7`);
  expect(psnr(a.png, b.png)).toBeLessThan(25);
}

describe("the default model: edge (edge_precision) and origin (fp32)", () => {
  let origin: OriginProcess;
  let edge: WorkerHandle;
  let info: EdgeInfo;
  /** Sizes the edge draws itself within its budget, ascending. */
  let drawn: number[] = [];

  beforeAll(async () => {
    origin = await startOrigin();
    edge = await startWorker({ vars: { ORIGIN_URL: origin.url, ORIGIN_TOKEN: TOKEN, ORIGIN_BREAKER_FAILURES: "1000" } });
    info = await edgeInfo(edge);
    drawn = info.edge.levels.filter((l) => l.at_edge && l.within_budget).map((l) => l.size).sort((a, b) => a - b);
  });
  afterAll(async () => {
    await edge?.dispose();
    await origin?.stop();
  });

  it("both serve the model on disk (a stale dist/ would compare other weights: rebuild with npm run build)", async () => {
    const o = await originModel(origin);
    const disk = modelManifest();
    expect([info.id, info.version]).toEqual([o.id, o.version]);
    expect([o.id, o.version]).toEqual([disk.id, disk.version]);
    expect(JSON.stringify(info.provenance), "dist/ was built from another conversion of the model").toBe(JSON.stringify(disk.provenance ?? null));
    expect(info.edge.max_size, "dist/ was built before the manifest's serving table changed").toBe(edgeMaxSize(disk));
    expect(info.edge.precision).toBe(disk.networks.student.edge_precision ?? "fp32");
  });

  it("the same seeds give the same faces: PSNR >= 30 dB on decoded pixels", async () => {
    // Small sizes (FFHQ faces are slow): four seeds at 16 px, one at 32 and one at 64 px, each size from a level of its
    // own (with the serving table, 64, 128 and 256 px levels), all of them levels the edge draws.
    const m = modelManifest();
    const sizes = [16, 16, 16, 16, 32, 64];
    for (const s of sizes) expect(drawn, `${s} px`).toContain(levelForSize(m, s).size);
    const seeds = ["alice", "bob@example.com", "42", "zoë", "carol", "dan"];
    await expectSameFaces(edge, origin, sizes.map((s, i) => [seeds[i]!, s] as const), info);
  });

  it("a size whose level the edge does not draw (beyond its wasm budget or edge_max_size) comes from the origin", async (ctx) => {
    const above = info.edge.levels.map((l) => l.size).sort((a, b) => a - b).find((s) => s > drawn[drawn.length - 1]!);
    ctx.skip(above === undefined, `the edge draws every level of ${info.id} itself: no size goes to the origin`);
    const e = await get(`${edge.url}/face/victor.png?size=${above}`);
    expect(e.res.headers.get("x-face-source")).toBe("origin");
    expect(e.res.headers.get("x-face-model")).toMatch(/\/student-fp32$/);
    expect([e.png.width, e.png.height]).toEqual([above, above]);
    const o = await origin.fetch(`/v1/face/victor.png?size=${above}`);
    expect(Buffer.from(await o.arrayBuffer()).equals(e.bytes)).toBe(true);
    expect(o.headers.get("etag")).toBe(e.res.headers.get("etag"));
  });

  it("sizes up to the serving table's edge_max_size are drawn at the edge, the next size up by the origin", async (ctx) => {
    const max = info.edge.max_size;
    ctx.skip(max === null, `the ${info.id} manifest has no networks.student.serving table (edge_max_size) yet: nothing is above the edge's limit`);
    const at = await get(`${edge.url}/face/wendy.png?size=${max}`);
    expect(at.res.headers.get("x-face-source")).toBe("edge");
    expect(at.res.headers.get("x-face-degraded")).toBeNull();
    const above = await get(`${edge.url}/face/wendy.png?size=${max! + 1}`);
    expect(above.res.headers.get("x-face-source")).toBe("origin");
    expect([above.png.width, above.png.height]).toEqual([max! + 1, max! + 1]);
    const o = await origin.fetch(`/v1/face/wendy.png?size=${max! + 1}`);
    expect(Buffer.from(await o.arrayBuffer()).equals(above.bytes)).toBe(true);
  });

  it("an origin-drawn face in every format: the edge's bytes and ETag are the origin's own for the same URL", async (ctx) => {
    const max = info.edge.max_size;
    ctx.skip(max === null, `${info.id} has no edge_max_size: nothing goes to the origin`);
    const size = max! + 1;
    for (const ext of ["webp", "jpg", "avif", "png"]) {
      const path = `face/yolanda.${ext}?size=${size}`;
      const e = await fetch(`${edge.url}/v/${info.id}@${info.version}/${path}`);
      expect(e.status, path).toBe(200);
      expect(e.headers.get("x-face-source")).toBe("origin");
      expect(e.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      const eb = Buffer.from(await e.arrayBuffer());
      const o = await origin.fetch(`/v1/${path}`);
      expect(o.status, path).toBe(200);
      expect(o.headers.get("content-type")).toBe(e.headers.get("content-type"));
      const ob = Buffer.from(await o.arrayBuffer());
      expect(ob.equals(eb), `${path}: edge ${eb.length} B vs origin ${ob.length} B`).toBe(true);
      expect(o.headers.get("etag")).toBe(e.headers.get("etag"));
    }
  });

  it("with the origin stopped, such a size degrades to the edge's largest level (short cache, marked)", async (ctx) => {
    // The largest level within budget now (the isolate has measured its memory since beforeAll).
    const now = await edgeInfo(edge);
    const top = Math.max(...now.edge.levels.filter((l) => l.at_edge && l.within_budget).map((l) => l.size));
    const above = now.edge.levels.map((l) => l.size).sort((a, b) => a - b).find((s) => s > top);
    ctx.skip(above === undefined, `the edge draws every level of ${info.id} itself: no size goes to the origin`);
    expect(await origin.stop()).toBe(0);
    const e = await get(`${edge.url}/face/mallory.png?size=${above}`);
    expect(e.res.headers.get("x-face-source")).toBe("edge");
    expect(e.res.headers.get("x-face-degraded")).toMatch(new RegExp(`${top}px upscaled`));
    expect(e.res.headers.get("cache-control")).not.toMatch(/immutable/);
    expect([e.png.width, e.png.height]).toEqual([above, above]);
  });
});

describe("the model with a teacher: edge -> origin paths", () => {
  let origin: OriginProcess;
  let edge: WorkerHandle;
  let build: Awaited<ReturnType<typeof teacherEdge>>;
  let resolution = 0;
  const worker = (vars: Record<string, string>) => startWorker({ distDir: build.dist, assetsDir: build.assets, vars });

  beforeAll(async () => {
    build = await teacherEdge();
    origin = await startTeacherOrigin();
    const m = await originModel(origin);
    expect([m.id, m.version]).toEqual([build.manifest.id, build.manifest.version]);
    resolution = m.resolution;
    edge = await worker({ ORIGIN_URL: origin.url, ORIGIN_TOKEN: TOKEN, ORIGIN_BREAKER_FAILURES: "1000" });
  });
  afterAll(async () => {
    await edge?.dispose();
    await origin?.stop();
  });

  it("the same seeds give the same faces: PSNR >= 30 dB on decoded pixels", async () => {
    const cases = ["alice", "bob@example.com", "42", "zoë"].map((seed) => [seed, resolution] as const)
      .concat([["carol", resolution / 2], ["dan", resolution / 2]]);
    await expectSameFaces(edge, origin, cases, await edgeInfo(edge));
  });

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
    expect(size).toBeGreaterThan(resolution);
    const e = await get(`${edge.url}/face/victor.png?size=${size}`);
    expect(e.res.headers.get("x-face-source")).toBe("origin");
    expect([e.png.width, e.png.height]).toEqual([size, size]);
    const o = await origin.fetch(`/v1/face/victor.png?size=${size}`);
    expect(Buffer.from(await o.arrayBuffer()).equals(e.bytes)).toBe(true);
  });

  it("with two origins configured and one of them down, every seed is still served by the live one", async () => {
    const dead = "http://127.0.0.1:9"; // discard port: nothing listens, connections are refused
    const two = await worker({ ORIGIN_URL: `${dead},${origin.url}`, ORIGIN_TOKEN: TOKEN, ORIGIN_BREAKER_FAILURES: "1000" });
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
    const bad = await worker({ ORIGIN_URL: origin.url, ORIGIN_TOKEN: "wrong-token" });
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
