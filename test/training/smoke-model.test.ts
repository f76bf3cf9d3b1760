// Issue 4: "the smoke run produces a complete model directory that the edge can load". The one-call GPU script's
// CPU path (`training/device/run.sh --smoke`) trains, distils, exports and quantizes a tiny model; the real worker is
// then built on it by wrangler (as `npm run build` does, SEEDFACE_MODELS_DIR pointing at the smoke models) and run
// in workerd, and must serve faces from it.
//
// The build runs in a temporary copy of the worker's sources: the build step writes src/edge/bundled-model.generated.ts,
// and the repository's copy (and dist/) must keep naming the default model for the other suites.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePng, isNonBlank, rgbOf } from "../helpers/png.js";
import { REPO, startWorker, type WorkerHandle } from "../../harness/worker.js";

const FACES = resolve(REPO, "../shared/datasets/faces128");

function sh(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    p.stdout.on("data", (d) => (log += d));
    p.stderr.on("data", (d) => (log += d));
    p.on("error", fail);
    p.on("close", (code) => (code === 0 ? ok(log) : fail(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${log.slice(-4000)}`))));
  });
}

/** Copy of what `wrangler deploy --dry-run` reads, node_modules linked; the generated module is rebuilt there. */
function workerSourceCopy(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const f of ["src", "wasm", "wrangler.toml", "package.json", "tsconfig.json"]) cpSync(join(REPO, f), join(dir, f), { recursive: true });
  rmSync(join(dir, "src/edge/bundled-model.generated.ts"), { force: true });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "dist-assets"));
  return dir;
}

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

    const build = workerSourceCopy(join(tmp, "build"));
    const log = await sh(join(build, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", join(build, "dist")], {
      cwd: build,
      env: { SEEDFACE_MODELS_DIR: models, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    });
    expect(log).toContain("bundling model smoke@");
    w = await startWorker({ distDir: join(build, "dist"), assetsDir: null });
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
