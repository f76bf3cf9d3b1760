// Origin fallback against a real second server process speaking the contract (test/helpers/fake-origin.ts). Most
// of it goes through model=teacher (always drawn by the origin), so that part runs on an edge built for a model with
// a teacher (faces64 while the default model, FFHQ, has none: harness/models.ts edgeWithTeacher); the cache
// tier and rate limiting run on the repository's build (the default model).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CACHE_HOST } from "../../src/edge/face-cache.js";
import { canonicalKey, parseFaceRequest } from "../../src/shared/params.js";
import { decodePng, isNonBlank, rgbOf } from "../helpers/png.js";
import type { EdgeBuild } from "../../harness/models.js";
import { edgeWithTeacher } from "../../harness/models.js";
import type { FakeOrigin } from "../helpers/fake-origin.js";
import { deadUrl, gradient, startFakeOrigin } from "../helpers/fake-origin.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { startWorker } from "../../harness/worker.js";

const TOKEN = "s3cret-token";
let origin: FakeOrigin;
let dead: string;
let teacherEdge: EdgeBuild;
const workers: WorkerHandle[] = [];

/** A worker on the model with a teacher, with an origin token and a short origin timeout. */
async function worker(vars: Record<string, string>, extra: Parameters<typeof startWorker>[0] = {}) {
  const w = await startWorker({ distDir: teacherEdge.dist, assetsDir: teacherEdge.assets, ...extra, vars: { ORIGIN_TOKEN: TOKEN, ORIGIN_TIMEOUT_MS: "1500", ...vars } });
  workers.push(w);
  return w;
}
async function get(w: WorkerHandle, path: string) {
  const res = await fetch(w.url + path);
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

beforeAll(async () => {
  teacherEdge = await edgeWithTeacher();
  origin = await startFakeOrigin(TOKEN);
  dead = await deadUrl();
});
afterAll(async () => {
  for (const w of workers) await w.dispose();
  await origin?.close();
});

describe("origin fallback", () => {
  it("model=teacher goes to the origin with the contract path and the bearer token", async () => {
    origin.mode = "ok";
    const w = await worker({ ORIGIN_URL: origin.url });
    const { res, bytes } = await get(w, "/face/alice%2Fx.png?size=64&psi=0.5&model=teacher&junk=1");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-face-source")).toBe("origin");
    expect(res.headers.get("x-face-model")).toBe("fake@1/teacher-fp32");
    expect(res.headers.get("cache-control")).toBe("public, max-age=300, stale-while-revalidate=3600"); // unversioned URL (issue 13)
    expect(same(rgbOf(decodePng(bytes)), gradient(64, 200))).toBe(true);
    const last = origin.requests[origin.requests.length - 1]!;
    expect(last.path).toBe("/v1/face/alice%2Fx.png?size=64&psi=0.50&model=teacher");
    expect(last.auth).toBe(`Bearer ${TOKEN}`);
    const again = await get(w, "/face/alice%2Fx.png?size=64&psi=0.5&model=teacher");
    expect(again.res.headers.get("x-face-source")).toBe("cache");
  });

  it("sizes above the model resolution go to the origin when one is configured", async () => {
    origin.mode = "ok";
    const w = await worker({ ORIGIN_URL: origin.url });
    expect(teacherEdge.manifest.resolution).toBeLessThan(512);
    const { res, bytes } = await get(w, "/face/big.png?size=512");
    expect(res.headers.get("x-face-source")).toBe("origin");
    expect(decodePng(bytes).width).toBe(512);
  });

  it("fails over from a dead origin to a live one, whatever the seed-hash pick", async () => {
    origin.mode = "ok";
    const w = await worker({ ORIGIN_URL: `${dead},${origin.url}` });
    for (const seed of ["s1", "s2", "s3", "s4"]) {
      const { res } = await get(w, `/face/${seed}.png?size=32&model=teacher`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-face-source")).toBe("origin");
    }
  });

  it("origin errors, timeouts and bad bodies give a degraded edge render, cached briefly", async () => {
    const w = await worker({ ORIGIN_URL: origin.url, ORIGIN_TIMEOUT_MS: "300", ORIGIN_BREAKER_FAILURES: "100" });
    for (const mode of ["error500", "hang", "notpng"] as const) {
      origin.mode = mode;
      const { res, bytes } = await get(w, `/face/degrade-${mode}.png?size=48&model=teacher`);
      expect(res.status, mode).toBe(200);
      expect(res.headers.get("x-face-source")).toBe("edge");
      expect(res.headers.get("x-face-degraded")).toMatch(/teacher unavailable/);
      expect(res.headers.get("cache-control")).toBe("public, max-age=60");
      const img = decodePng(bytes);
      expect(img.width).toBe(48);
      expect(isNonBlank(img)).toBe(true);
    }
    origin.mode = "ok";
  });

  it("origin down and nothing the edge can draw: 503 JSON with Retry-After", async () => {
    const w = await worker({ ORIGIN_URL: dead, EDGE_WASM_BUDGET_MB: "1" });
    const { res, bytes } = await get(w, "/face/nobody.png?size=64&model=teacher");
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBeTruthy();
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(new TextDecoder().decode(bytes)).error.code).toBe("origin_unavailable");
  });

  it("a 4xx from the origin is passed on as the client's error", async () => {
    origin.mode = "reject400";
    const w = await worker({ ORIGIN_URL: origin.url });
    const r = await get(w, "/face/refused.png?size=32&model=teacher");
    expect(r.res.status).toBe(400);
    expect(JSON.parse(new TextDecoder().decode(r.bytes)).error).toEqual({ code: "bad_seed", message: "the origin refuses this seed" });
    origin.mode = "ok";
  });

  it("a wrong token is an edge misconfiguration: degraded render, never a 401 to the user", async () => {
    origin.mode = "ok";
    const bad = await worker({ ORIGIN_URL: origin.url, ORIGIN_TOKEN: "wrong" });
    const u = await get(bad, "/face/token.png?size=32&model=teacher");
    expect(u.res.status).toBe(200);
    expect(u.res.headers.get("x-face-degraded")).toBeTruthy();
  });

  it("the circuit breaker stops calling a failing origin after N failures", async () => {
    origin.mode = "error500";
    const w = await worker({ ORIGIN_URL: origin.url, ORIGIN_BREAKER_FAILURES: "2", ORIGIN_BREAKER_COOLDOWN_MS: "600000" });
    const before = origin.requests.length;
    for (let i = 0; i < 5; i++) {
      const { res } = await get(w, `/face/breaker-${i}.png?size=32&model=teacher`);
      expect(res.status).toBe(200);
    }
    expect(origin.requests.length - before).toBe(2);
    const health = (await (await fetch(`${w.url}/healthz`)).json()) as { breakers: Record<string, string> };
    expect(health.breakers[origin.url]).toBe("open");
    origin.mode = "ok";
  });

  it("no part of the request URL chooses where the edge connects", async () => {
    origin.mode = "ok";
    const w = await worker({ ORIGIN_URL: origin.url });
    const before = origin.requests.length;
    const { res } = await get(w, "/face/http%3A%2F%2Fevil.example%2F@x.png?size=32&model=teacher&origin=http://evil.example");
    expect(res.status).toBe(200);
    expect(origin.requests.length - before).toBe(1);
    expect(origin.requests[origin.requests.length - 1]!.path).toBe("/v1/face/http%3A%2F%2Fevil.example%2F%40x.png?size=32&psi=0.70&model=teacher");
  });
});

describe("second cache tier and rate limiting", () => {
  it("R2 (FACES) serves a face after the Cache API lost it", async () => {
    const w = await startWorker({ r2: true });
    workers.push(w);
    const first = await get(w, "/face/r2.png?size=32");
    expect(first.res.headers.get("x-face-source")).toBe("edge");
    const objects = await (await w.mf.getR2Bucket("FACES")).list();
    expect(objects.objects.length).toBe(1);
    const model = (await (await fetch(`${w.url}/v1/models`)).json()) as { models: { id: string; version: string; params: { psi: { default: number } } }[] };
    const { id, version, params } = model.models[0]!;
    const key = canonicalKey(parseFaceRequest("r2.png", new URLSearchParams("size=32"), { psi: params.psi.default }), id, version);
    const caches = await w.mf.getCaches();
    expect(await caches.default.delete(CACHE_HOST + key)).toBe(true);
    const second = await get(w, "/face/r2.png?size=32");
    expect(second.res.headers.get("x-face-source")).toBe("cache");
    expect(second.res.headers.get("server-timing")).toMatch(/^r2;/);
    expect(same(first.bytes, second.bytes)).toBe(true);
    expect(second.res.headers.get("etag")).toBe(first.res.headers.get("etag"));
  });

  it("MISS_LIMITER limits cache misses only, with 429 JSON", async () => {
    const w = await startWorker({ missLimit: 2 });
    workers.push(w);
    expect((await get(w, "/face/rl-1.png?size=16")).res.status).toBe(200);
    expect((await get(w, "/face/rl-2.png?size=16")).res.status).toBe(200);
    const limited = await get(w, "/face/rl-3.png?size=16");
    expect(limited.res.status).toBe(429);
    expect(limited.res.headers.get("retry-after")).toBeTruthy();
    expect(JSON.parse(new TextDecoder().decode(limited.bytes)).error.code).toBe("rate_limited");
    const hit = await get(w, "/face/rl-1.png?size=16");
    expect(hit.res.status).toBe(200);
    expect(hit.res.headers.get("x-face-source")).toBe("cache");
  });
});
