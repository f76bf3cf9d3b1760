// The origin under load and across its lifetime, as real processes: micro-batching gives the same bytes as
// batch-1 renders and as a restarted server, the bounded queue answers 503 + Retry-After without crashing,
// per-request timeouts, SIGTERM finishes in-flight work before exiting, and bad start-up settings fail clearly. On
// the default model; the teacher's batching on the model with a teacher (faces64 while the default has none).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { modelManifest } from "../../harness/models.js";
import { modelsWithTeacher, ROOT, startOrigin } from "../../harness/origin.js";

const SEEDS = ["ada", "bea", "cy", "dot", "eve", "fay"];

function batchOf(res: Response): number {
  const m = /batch(\d+)/.exec(res.headers.get("server-timing") ?? "");
  return m ? Number(m[1]) : 0;
}

describe("determinism and batching", () => {
  // The default model's student, and the teacher on the model with one (faces64 while the default has none).
  const runs: [string, () => string[], string[]][] = modelManifest().networks.teacher
    ? [["the default model, student and teacher", () => [], ["?size=64", "?size=128&model=teacher"]]]
    : [
      ["the default model's student", () => [], ["?size=32"]],
      ["the teacher model's teacher", () => ["--models", modelsWithTeacher()], ["?size=128&model=teacher"]],
    ];
  it.each(runs)("micro-batched renders are byte-identical to batch-1 renders in a restarted server (%s)", async (_name, models, paths) => {
    const a = await startOrigin([...models(), "--batch-window-ms", "250", "--max-batch", "8"]);
    const batched = new Map<string, Buffer>();
    let maxBatch = 0;
    try {
      for (const path of paths) {
        const responses = await Promise.all(SEEDS.map((s) => a.fetch(`/v1/face/${s}.png${path}`)));
        for (const [i, r] of responses.entries()) {
          expect(r.status).toBe(200);
          maxBatch = Math.max(maxBatch, batchOf(r));
          batched.set(SEEDS[i]! + path, Buffer.from(await r.arrayBuffer()));
        }
      }
    } finally {
      expect(await a.stop()).toBe(0);
    }
    expect(maxBatch).toBeGreaterThan(1);

    const b = await startOrigin([...models(), "--max-batch", "1", "--lru-bytes", "0"]);
    try {
      for (const [key, bytes] of batched) {
        const [seed, path] = [key.slice(0, key.indexOf("?")), key.slice(key.indexOf("?"))];
        for (let rep = 0; rep < 2; rep++) {
          const r = await b.fetch(`/v1/face/${seed}.png${path}`);
          expect(r.status).toBe(200);
          expect(batchOf(r)).toBe(1);
          expect(Buffer.from(await r.arrayBuffer()).equals(bytes), `${key} differs`).toBe(true);
        }
      }
    } finally {
      expect(await b.stop()).toBe(0);
    }
  });
});

describe("overload", () => {
  it("a full queue gives 503 JSON with Retry-After, and the server keeps serving", async () => {
    const o = await startOrigin(["--max-queue", "2", "--max-batch", "8", "--batch-window-ms", "500", "--retry-after-s", "3"]);
    try {
      const responses = await Promise.all(SEEDS.concat(["gus", "hal"]).map((s) => o.fetch(`/v1/face/q-${s}.png?size=32`)));
      const ok = responses.filter((r) => r.status === 200);
      const busy = responses.filter((r) => r.status === 503);
      expect(ok.length).toBe(2);
      expect(busy.length).toBe(6);
      for (const r of busy) {
        expect(r.headers.get("retry-after")).toBe("3");
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe("overloaded");
      }
      for (const r of ok) expect(PNG.sync.read(Buffer.from(await r.arrayBuffer())).width).toBe(32);
      const again = await o.fetch("/v1/face/q-after.png?size=32");
      expect(again.status).toBe(200);
      expect((await o.fetch("/v1/healthz", { token: null })).status).toBe(200);
      expect(o.proc.exitCode).toBeNull();
    } finally {
      await o.stop();
    }
  });

  it("a render over the per-request timeout gives 503 timeout", async () => {
    const o = await startOrigin(["--timeout-ms", "20", "--batch-window-ms", "200"]);
    try {
      const r = await o.fetch("/v1/face/slow.png?size=64");
      expect(r.status).toBe(503);
      expect(r.headers.get("retry-after")).toBe("1");
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("timeout");
      expect((await o.fetch("/v1/healthz", { token: null })).status).toBe(200);
    } finally {
      await o.stop();
    }
  });
});

describe("graceful shutdown", () => {
  it("SIGTERM finishes in-flight renders, then exits 0 and stops listening", async () => {
    const o = await startOrigin(["--batch-window-ms", "1000", "--max-batch", "8"]);
    const pending = ["s1", "s2", "s3"].map((s) => o.fetch(`/v1/face/${s}.png?size=64`));
    // Signal only once all three are queued (they wait for the long batch window).
    for (let load = 0; load < 3; ) {
      await new Promise((r) => setTimeout(r, 20));
      load = ((await (await o.fetch("/v1/healthz", { token: null })).json()) as { queue: { load: number } }).queue.load;
    }
    o.proc.kill("SIGTERM");
    const responses = await Promise.all(pending);
    for (const r of responses) {
      expect(r.status).toBe(200);
      expect(PNG.sync.read(Buffer.from(await r.arrayBuffer())).width).toBe(64);
    }
    expect(await o.exited).toBe(0);
    expect(o.logs.some((l) => l.includes('"event":"draining"'))).toBe(true);
    expect(o.logs.some((l) => l.includes('"event":"stopped"'))).toBe(true);
    await expect(fetch(`${o.url}/v1/healthz`)).rejects.toThrow();
  });
});

describe("start-up errors", () => {
  const run = (args: string[], env: Record<string, string> = {}) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ORIGIN_")));
    return spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/origin/main.ts"), "--port", "0", ...args],
      { cwd: ROOT, env: { ...clean, ...env }, encoding: "utf8", timeout: 60_000 });
  };

  it("refuses to run without a token, with a bad flag, or without a model", () => {
    const noToken = run([]);
    expect(noToken.status).toBe(2);
    expect(noToken.stderr).toMatch(/bearer token is required/);
    const badFlag = run(["--batch-window-ms", "soon"], { ORIGIN_TOKEN: "t" });
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toMatch(/batch-window-ms must be an integer/);
    const noModel = run(["--models", join(ROOT, "does-not-exist")], { ORIGIN_TOKEN: "t" });
    expect(noModel.status).toBe(2);
    expect(noModel.stderr).toMatch(/neither manifest.json nor default.json/);
  });
});
