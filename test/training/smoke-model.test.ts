// Issue 4: "the smoke run produces a complete model directory that the edge can load". The one-call GPU script's
// CPU path (`training/device/run.sh --smoke`) trains, distils, exports and quantizes a tiny model; the real worker is
// then built on it by wrangler (as `npm run build` does, SEEDFACE_MODELS_DIR pointing at the smoke models) and run
// in workerd, and must serve faces from it.
//
// The build runs in a temporary copy of the worker's sources (harness/worker.ts buildWorker): the build step writes
// src/edge/bundled-model.generated.ts, and the repository's copy (and dist/) must keep naming the default model for
// the other suites.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePng, isNonBlank, rgbOf } from "../helpers/png.js";
import { buildWorker, REPO, sh, startWorker, type WorkerHandle } from "../../harness/worker.js";

const FACES = resolve(REPO, "../shared/datasets/faces128");

describe.skipIf(!existsSync(FACES))("the smoke-trained model in the edge worker", () => {
  let tmp: string;
  let w: WorkerHandle | undefined;
  let manifest: { id: string; version: string; resolution: number; networks: { student: { edge_precision: string } } };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), "seedface-smoke-edge-"));
    const keep = join(tmp, "smoke");
    await sh("bash", ["training/device/run.sh", "--smoke", "--keep", keep], { cwd: REPO, env: { OMP_NUM_THREADS: "1" } });
    const models = join(keep, "models");
    manifest = JSON.parse(readFileSync(join(models, "smoke", "manifest.json"), "utf8"));
    writeFileSync(join(models, "default.json"), JSON.stringify({ default: "smoke" }));

    const { dist, log } = await buildWorker(join(tmp, "build"), models);
    expect(log).toContain("bundling model smoke@");
    w = await startWorker({ distDir: dist, assetsDir: null });
  }, 900_000);

  afterAll(async () => {
    await w?.dispose();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("lists the smoke model as the one it serves", async () => {
    const res = await fetch(`${w!.url}/v1/models`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { models: { id: string; resolution: number }[] };
    expect(body.models.map((m) => [m.id, m.resolution])).toEqual([["smoke", 64]]);
  });

  it("draws /face/alice.png?size=64 from it: a 64x64 non-blank PNG", async () => {
    const res = await fetch(`${w!.url}/face/alice.png?size=64`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("x-face-source")).toBe("edge");
    expect(res.headers.get("x-face-model")).toBe(`smoke@${manifest.version}/student-${manifest.networks.student.edge_precision}`);
    const img = decodePng(new Uint8Array(await res.arrayBuffer()));
    expect([img.width, img.height]).toEqual([64, 64]);
    expect(isNonBlank(img)).toBe(true);
  });

  it("gives different seeds different faces, from the small heads too", async () => {
    const face = async (seed: string, size: number) => {
      const res = await fetch(`${w!.url}/face/${seed}.png?size=${size}`);
      expect(res.status).toBe(200);
      const img = decodePng(new Uint8Array(await res.arrayBuffer()));
      expect([img.width, img.height]).toEqual([size, size]);
      return Buffer.from(rgbOf(img));
    };
    expect((await face("alice", 16)).equals(await face("bob", 16))).toBe(false);
    expect((await face("alice", 32)).equals(await face("bob", 32))).toBe(false);
  });
});
