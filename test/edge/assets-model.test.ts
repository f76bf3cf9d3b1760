// A model whose weights the worker fetches from its static assets (as a large default model is served), run in real
// workerd: sha256/size checks, per-level pruned sessions, the manifest's serving table, sizes above the edge's
// limit (origin, or upscaled without one), and model=teacher on a model without a teacher. Built on a student-only
// copy of models/faces64 with a `serving` table (test/helpers/model-dir.ts), its weights forced to assets.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { noiseInputs, parseManifest } from "../../src/shared/manifest.js";
import { pruneToOutputs } from "../../src/shared/onnx-prune.js";
import type { FakeOrigin } from "../helpers/fake-origin.js";
import { gradient, startFakeOrigin } from "../helpers/fake-origin.js";
import type { TestModel } from "../helpers/model-dir.js";
import { hasFaces64, teacherlessServingModel } from "../helpers/model-dir.js";
import { decodePng, isNonBlank, rgbOf } from "../helpers/png.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { buildWorker, startWorker } from "../../harness/worker.js";

let tmp: string;
let model: TestModel;
let assetsBuild: { dist: string; assets: string; log: string };
let bundleBuild: { dist: string; assets: string; log: string };
let origin: FakeOrigin;
const workers: WorkerHandle[] = [];

async function worker(opts: Parameters<typeof startWorker>[0]): Promise<WorkerHandle> {
  const w = await startWorker(opts);
  workers.push(w);
  return w;
}
async function get(w: WorkerHandle, path: string) {
  const res = await fetch(w.url + path);
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const inferOf = (res: Response) => /infer;dur=[\d.]+;desc="([^"]+)"/.exec(res.headers.get("server-timing") ?? "")?.[1];

/** The model folder inside a build's static assets (embed/models/<id>/<version>-<tag>/). */
function assetModelDir(assets: string): string {
  const base = join(assets, "embed/models", model.manifest.id);
  const [v] = readdirSync(base);
  return join(base, v!);
}

/** A copy of the build's static assets with `edit` applied to the student's file. */
function tamperedAssets(name: string, edit: (b: Buffer) => Buffer): string {
  const dir = join(tmp, name);
  cpSync(assetsBuild.assets, dir, { recursive: true });
  const file = join(assetModelDir(dir), model.manifest.networks.student.files.int8);
  writeFileSync(file, edit(readFileSync(file)));
  return dir;
}

beforeAll(async () => {
  if (!hasFaces64) return;
  tmp = mkdtempSync(join(tmpdir(), "seedface-assets-model-"));
  model = teacherlessServingModel(join(tmp, "models"));
  origin = await startFakeOrigin();
  assetsBuild = await buildWorker(join(tmp, "build-assets"), model.models, { SEEDFACE_EDGE_WEIGHTS: "assets" });
  bundleBuild = await buildWorker(join(tmp, "build-auto"), model.models); // auto: faces64's 3.5 MB is bundled
}, 300_000);

afterAll(async () => {
  for (const w of workers) await w.dispose();
  await origin?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!hasFaces64)("edge weights from static assets", () => {
  it("the build puts the weights into the static assets, not the bundle (auto bundles a small model)", () => {
    expect(assetsBuild.log).toContain("served from static assets");
    expect(readdirSync(assetsBuild.dist).filter((f) => f.endsWith(".onnx"))).toEqual([]);
    const dir = assetModelDir(assetsBuild.assets);
    for (const f of ["mapping.onnx", "student_int8.onnx"]) {
      const entry = model.manifest.files.find((e: { path: string }) => e.path === f);
      expect(statSync(join(dir, f)).size, f).toBe(entry.bytes);
    }
    expect(bundleBuild.log).toContain("bundling model faces64@");
    expect(readdirSync(bundleBuild.dist).filter((f) => f.endsWith(".onnx")).length).toBe(2);
    // Each bundled .onnx is a Data module of the bundle; the assets build's bundle is that much smaller.
    const size = (d: string) => readdirSync(d).reduce((n, f) => n + statSync(join(d, f)).size, 0);
    expect(size(bundleBuild.dist) - size(assetsBuild.dist)).toBeGreaterThan(3_000_000);
  });

  it("draws faces from the fetched weights (fetched once per isolate), byte-identical to the bundled build", async () => {
    const a = await worker({ distDir: assetsBuild.dist, assetsDir: assetsBuild.assets });
    const b = await worker({ distDir: bundleBuild.dist, assetsDir: null });
    const first = await get(a, "/face/alice@example.com.png?size=32");
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get("x-face-source")).toBe("edge");
    expect(first.res.headers.get("server-timing")).toMatch(/fetch;dur=[\d.]+;desc="weights from static assets"/);
    const again = await get(a, "/face/bob.png?size=32");
    expect(again.res.headers.get("server-timing")).not.toMatch(/fetch;/);
    const bundled = await get(b, "/face/alice@example.com.png?size=32");
    expect(bundled.res.headers.get("server-timing")).not.toMatch(/fetch;/);
    expect(same(first.bytes, bundled.bytes)).toBe(true);
    expect(first.res.headers.get("etag")).toBe(bundled.res.headers.get("etag"));
    expect(isNonBlank(decodePng(first.bytes))).toBe(true);
    const health = await json(fetch(`${a.url}/healthz`));
    expect(health.weights).toBe("assets");
    expect((await json(fetch(`${b.url}/healthz`))).weights).toBe("bundle");
  });

  it("weights failing their sha256 check: 503 JSON model_unavailable, never a face, also on the next request", async () => {
    const assets = tamperedAssets("assets-flipped", (buf) => {
      buf[buf.length >> 1] = buf[buf.length >> 1]! ^ 0xff;
      return buf;
    });
    const w = await worker({ distDir: assetsBuild.dist, assetsDir: assets });
    for (let i = 0; i < 2; i++) {
      const { res, bytes } = await get(w, "/face/alice.png?size=32");
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("retry-after")).toBeTruthy();
      const body = JSON.parse(new TextDecoder().decode(bytes));
      expect(body.error.code).toBe("model_unavailable");
      expect(body.error.message).toMatch(/student_int8\.onnx.*sha256/);
    }
    // The worker is alive and says what is wrong; info routes do not need the weights.
    expect((await fetch(`${w.url}/v1/models`)).status).toBe(200);
    const health = await json(fetch(`${w.url}/healthz`));
    expect(health.sessions_loaded).toBe(false);
    expect(health.weights_error).toMatch(/sha256/);
  });

  it("weights of the wrong size: 503 naming the byte counts", async () => {
    const assets = tamperedAssets("assets-truncated", (buf) => buf.subarray(0, buf.length - 100));
    const w = await worker({ distDir: assetsBuild.dist, assetsDir: assets });
    const { res, bytes } = await get(w, "/face/alice.png?size=32");
    expect(res.status).toBe(503);
    const body = JSON.parse(new TextDecoder().decode(bytes));
    expect(body.error.code).toBe("model_unavailable");
    expect(body.error.message).toMatch(/bytes/);
  });

  it("with an origin, a face the edge cannot draw for want of weights comes from the origin", async () => {
    origin.mode = "ok";
    const assets = tamperedAssets("assets-flipped-origin", (buf) => {
      buf[100] = buf[100]! ^ 0x01;
      return buf;
    });
    const w = await worker({ distDir: assetsBuild.dist, assetsDir: assets, vars: { ORIGIN_URL: origin.url } });
    const { res, bytes } = await get(w, "/face/alice.png?size=32");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-face-source")).toBe("origin");
    expect(same(rgbOf(decodePng(bytes)), gradient(32, 50))).toBe(true);
  });
});

describe.skipIf(!hasFaces64)("per-level sessions and the serving table", () => {
  let w: WorkerHandle;
  beforeAll(async () => {
    w = await worker({ distDir: assetsBuild.dist, assetsDir: assetsBuild.assets });
  });

  it("a 16px face renders from img_32 as the table says (the plain rule would take img_16)", async () => {
    const { res, bytes } = await get(w, "/face/table.png?size=16");
    expect(res.status).toBe(200);
    expect(inferOf(res)).toBe("img_32");
    expect(decodePng(bytes).width).toBe(16);
    const r40 = await get(w, "/face/table.png?size=40");
    expect(inferOf(r40.res)).toBe("img_32");
    expect(decodePng(r40.bytes).width).toBe(40);
    const models = await json(fetch(`${w.url}/v1/models`));
    expect(models.models[0].edge.max_size).toBe(48);
    expect(models.models[0].edge.serving).toEqual(model.manifest.networks.student.serving.sizes);
    expect(models.models[0].edge.sizes_rendered_at_edge).toEqual([8, 16, 32]);
  });

  it("the img_32 session is over the pruned graph and is fed only the inputs that graph has", async () => {
    await get(w, "/face/pruned.png?size=32");
    const health = await json(fetch(`${w.url}/healthz`));
    const session = health.student_sessions.find((s: { output: string }) => s.output === "img_32");
    expect(session).toBeTruthy();
    const m = parseManifest(model.manifest);
    const student = new Uint8Array(readFileSync(join(model.dir, m.networks.student.files.int8!)));
    const expected = pruneToOutputs(student, ["img_32"], { dropUnusedInputs: true }).inputs;
    expect([...session.inputs].sort()).toEqual([...expected].sort());
    // The largest noise maps feed only the 64px head: the 32px session does not take them.
    const noise = noiseInputs(m.networks.student);
    const largest = noise.filter((n) => n.size === Math.max(...noise.map((x) => x.size))).map((n) => n.name);
    expect(largest.length).toBeGreaterThan(0);
    for (const n of largest) expect(session.inputs).not.toContain(n);
    expect(session.inputs).toContain("w");
  });

  it("above edge_max_size without an origin: the 32px level upscaled, said so in X-Face-Upscaled, cached with it", async () => {
    const { res, bytes } = await get(w, "/face/big.png?size=64");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-face-source")).toBe("edge");
    expect(inferOf(res)).toBe("img_32");
    expect(res.headers.get("x-face-upscaled")).toMatch(/32px level upscaled.*48px/);
    expect(res.headers.get("x-face-degraded")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("public, max-age=300, stale-while-revalidate=3600"); // unversioned URL (issue 13)
    const img = decodePng(bytes);
    expect([img.width, img.height]).toEqual([64, 64]);
    expect(isNonBlank(img)).toBe(true);
    const again = await get(w, "/face/big.png?size=64");
    expect(again.res.headers.get("x-face-source")).toBe("cache");
    expect(again.res.headers.get("x-face-upscaled")).toBe(res.headers.get("x-face-upscaled"));
    // No img_64 session was made for it.
    const health = await json(fetch(`${w.url}/healthz`));
    expect(health.student_sessions.map((s: { output: string }) => s.output)).not.toContain("img_64");
  });

  it("with an origin, sizes above edge_max_size go to it; sizes up to it stay at the edge", async () => {
    origin.mode = "ok";
    const wo = await worker({ distDir: assetsBuild.dist, assetsDir: assetsBuild.assets, vars: { ORIGIN_URL: origin.url } });
    const before = origin.requests.length;
    const big = await get(wo, "/face/big.png?size=64");
    expect(big.res.status).toBe(200);
    expect(big.res.headers.get("x-face-source")).toBe("origin");
    expect(big.res.headers.get("x-face-upscaled")).toBeNull();
    expect(same(rgbOf(decodePng(big.bytes)), gradient(64, 50))).toBe(true);
    expect(origin.requests.length).toBe(before + 1);
    expect(origin.requests[before]!.path).toMatch(/^\/v1\/face\/big\.png\?size=64&.*model=student/);
    const small = await get(wo, "/face/small.png?size=48");
    expect(small.res.headers.get("x-face-source")).toBe("edge");
    expect(origin.requests.length).toBe(before + 1);
    // When the origin fails, the edge's largest level stands in (degraded, briefly cached).
    origin.mode = "error500";
    const down = await get(wo, "/face/big2.png?size=64");
    expect(down.res.status).toBe(200);
    expect(down.res.headers.get("x-face-degraded")).toMatch(/32px/);
    origin.mode = "ok";
  });
});

describe.skipIf(!hasFaces64)("model=teacher on a model without a teacher", () => {
  it("is a 400 bad_model at the edge, with or without an origin, and never reaches the origin", async () => {
    origin.mode = "ok";
    const plain = await worker({ distDir: assetsBuild.dist, assetsDir: assetsBuild.assets });
    const withOrigin = await worker({ distDir: assetsBuild.dist, assetsDir: assetsBuild.assets, vars: { ORIGIN_URL: origin.url } });
    const before = origin.requests.length;
    for (const w of [plain, withOrigin]) {
      const { res, bytes } = await get(w, "/face/alice.png?model=teacher&size=32");
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const body = JSON.parse(new TextDecoder().decode(bytes));
      expect(body.error.code).toBe("bad_model");
      expect(body.error.message).toMatch(/no teacher/);
      const models = await json(fetch(`${w.url}/v1/models`));
      expect(models.models[0].params.model).toEqual(["student"]);
    }
    expect(origin.requests.length).toBe(before);
  });
});

// Keeps the fixture honest: the table really changes the level for 16 px (else the first test above proves nothing).
describe.skipIf(!hasFaces64)("fixture", () => {
  it("faces64 has img_16, so the plain rule would not pick img_32 for 16 px", () => {
    expect(existsSync(model.dir)).toBe(true);
    expect(model.manifest.networks.student.outputs.map((o: { name: string }) => o.name)).toContain("img_16");
  });
});
