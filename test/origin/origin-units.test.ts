// Unit tests of the origin's parts that need no model: micro-batcher, byte-bounded LRU, bearer check, config,
// and the ONNX rewrites (noise batch axis, pruning to one output), run on the real student graph.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { makeBearerCheck } from "../../src/shared/bearer.js";
import { MicroBatcher, QueueFullError, RenderTimeoutError } from "../../src/origin/batcher.js";
import { ConfigError, loadConfig, parseBytes } from "../../src/origin/config.js";
import { ByteLru } from "../../src/origin/lru.js";
import { makeNoiseBatchable } from "../../src/origin/onnx-batch-noise.js";
import { graphOutputs, pruneToOutputs } from "../../src/shared/onnx-prune.js";
import { resolveModelDir } from "../../src/origin/config.js";
import { fullOutput, noiseInputs, parseManifest, wInput } from "../../src/shared/manifest.js";
import { MODELS } from "../../harness/origin.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("MicroBatcher", () => {
  it("groups calls within the window per lane, at most maxBatch per batch", async () => {
    const seen: [string, number[]][] = [];
    const b = new MicroBatcher<number, number>({
      windowMs: 30, maxBatch: 3, maxQueue: 100,
      run: async (lane, items) => {
        seen.push([lane, items]);
        return items.map((x) => x * 10);
      },
    });
    const res = await Promise.all([1, 2, 3, 4, 5].map((x) => b.submit("a", x, 5000)).concat([b.submit("b", 9, 5000)]));
    expect(res.map((r) => r.value)).toEqual([10, 20, 30, 40, 50, 90]);
    expect(seen).toEqual([["a", [1, 2, 3]], ["a", [4, 5]], ["b", [9]]]);
    expect(res[0]!.info.batchSize).toBe(3);
    expect(res[5]!.info.batchSize).toBe(1);
  });

  it("refuses beyond maxQueue, times out queued calls, and propagates batch errors", async () => {
    const b = new MicroBatcher<number, number>({
      windowMs: 50, maxBatch: 8, maxQueue: 2,
      run: async (_lane, items) => {
        if (items.includes(-1)) throw new Error("boom");
        return items;
      },
    });
    const p1 = b.submit("a", 1, 5000);
    const p2 = b.submit("a", 2, 10);
    await expect(b.submit("a", 3, 5000)).rejects.toBeInstanceOf(QueueFullError);
    await expect(p2).rejects.toBeInstanceOf(RenderTimeoutError);
    expect((await p1).value).toBe(1);
    expect(b.load).toBe(0);
    await expect(b.submit("a", -1, 5000)).rejects.toThrow("boom");
    expect(b.load).toBe(0);
  });

  it("drain runs queued work without waiting for the window", async () => {
    const b = new MicroBatcher<number, number>({ windowMs: 10_000, maxBatch: 8, maxQueue: 8, run: async (_l, items) => items });
    const p = b.submit("a", 7, 60_000);
    const t0 = performance.now();
    await b.drain();
    expect((await p).value).toBe(7);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe("ByteLru", () => {
  it("evicts least recently used entries to stay within its byte bound", () => {
    const lru = new ByteLru(10);
    lru.set("a", new Uint8Array(4));
    lru.set("b", new Uint8Array(4));
    expect(lru.get("a")).toBeDefined(); // a is now most recent
    lru.set("c", new Uint8Array(4)); // evicts b
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")).toBeDefined();
    expect(lru.get("c")).toBeDefined();
    expect(lru.bytes).toBe(8);
    lru.set("huge", new Uint8Array(11)); // larger than the bound: not stored
    expect(lru.get("huge")).toBeUndefined();
    expect(lru.bytes).toBeLessThanOrEqual(10);
  });
});

describe("bearer check", () => {
  it("accepts only the exact token with the Bearer scheme", () => {
    const ok = makeBearerCheck("s3cret");
    expect(ok("Bearer s3cret")).toBe(true);
    expect(ok("bearer s3cret")).toBe(true);
    expect(ok("Bearer s3cre")).toBe(false);
    expect(ok("Bearer s3cret2")).toBe(false);
    expect(ok("Basic s3cret")).toBe(false);
    expect(ok("s3cret")).toBe(false);
    expect(ok(undefined)).toBe(false);
    expect(ok("Bearer ")).toBe(false);
  });
});

describe("config", () => {
  const root = mkdtempSync(join(tmpdir(), "origin-cfg-"));
  mkdirSync(join(root, "m1"));
  writeFileSync(join(root, "m1", "manifest.json"), "{}");
  writeFileSync(join(root, "default.json"), JSON.stringify({ default: "m1" }));
  writeFileSync(join(root, "tok"), "abc\n");

  it("reads flags over environment, resolves default.json and the token file", () => {
    const cfg = loadConfig(["--port", "9000", "--token-file", join(root, "tok"), "--models", root],
      { ORIGIN_PORT: "1", ORIGIN_EP: "cpu", ORIGIN_LRU_BYTES: "2MiB" });
    expect(cfg.port).toBe(9000);
    expect(cfg.token).toBe("abc");
    expect(cfg.ep).toBe("cpu");
    expect(cfg.lruBytes).toBe(2 * 1024 * 1024);
    expect(cfg.modelDir).toBe(join(root, "m1"));
    expect(cfg.maxBatch).toBeNull(); // "auto": chosen by provider once it is known
    expect(loadConfig(["--max-batch", "4"], { ORIGIN_TOKEN: "t", ORIGIN_MODEL_DIR: root }).maxBatch).toBe(4);
  });

  it("rejects bad settings with a clear message", () => {
    const base = { ORIGIN_TOKEN: "t", ORIGIN_MODEL_DIR: root };
    expect(() => loadConfig([], { ORIGIN_MODEL_DIR: root })).toThrow(/token is required/);
    expect(() => loadConfig(["--port", "x"], base)).toThrow(ConfigError);
    expect(() => loadConfig(["--ep", "tpu"], base)).toThrow(/auto, cuda or cpu/);
    expect(() => loadConfig(["--bogus", "1"], base)).toThrow(/unknown flag/);
    expect(() => loadConfig(["--model", "nope"], base)).toThrow(/not found/);
    expect(() => parseBytes("lru", "lots")).toThrow(ConfigError);
  });
});

/** The default model's manifest, its student spec and the student's fp32 graph bytes. */
function realStudent() {
  const dir = resolveModelDir(MODELS);
  const m = parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
  const net = m.networks.student;
  return { m, net, original: new Uint8Array(readFileSync(join(dir, net.files.fp32!))) };
}

describe("noise-batch rewrite of the real student graph", () => {
  it("a batch of 2 with different noise equals two batch-1 runs of the original graph", async () => {
    const { m, net, original } = realStudent();
    const { model, changed } = makeNoiseBatchable(original);
    const noise = noiseInputs(net);
    expect(changed.sort()).toEqual(noise.map((n) => n.name).sort());
    const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, executionProviders: ["cpu"] };
    const batched = await ort.InferenceSession.create(model, opts);
    const plain = await ort.InferenceSession.create(original, opts);
    const { name, nW } = wInput(net);
    let state = 1;
    const rnd = (n: number) => Float32Array.from({ length: n }, () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
    const items = [0, 1].map(() => ({ w: rnd(nW * m.style_dim), noise: noise.map((n) => rnd(n.size * n.size)) }));
    const out = fullOutput(net).name;
    const single: Float32Array[] = [];
    for (const it of items) {
      const feeds: Record<string, ort.Tensor> = { [name]: new ort.Tensor("float32", it.w, [1, nW, m.style_dim]) };
      noise.forEach((n, k) => (feeds[n.name] = new ort.Tensor("float32", it.noise[k]!, [1, 1, n.size, n.size])));
      single.push((await plain.run(feeds, [out]))[out]!.data as Float32Array);
    }
    const feeds: Record<string, ort.Tensor> = {
      [name]: new ort.Tensor("float32", Float32Array.from([...items[0]!.w, ...items[1]!.w]), [2, nW, m.style_dim]),
    };
    noise.forEach((n, k) => {
      feeds[n.name] = new ort.Tensor("float32", Float32Array.from([...items[0]!.noise[k]!, ...items[1]!.noise[k]!]), [2, 1, n.size, n.size]);
    });
    const both = (await batched.run(feeds, [out]))[out]!.data as Float32Array;
    const per = single[0]!.length;
    let maxDiff = 0;
    for (let i = 0; i < 2; i++) for (let j = 0; j < per; j++) maxDiff = Math.max(maxDiff, Math.abs(both[i * per + j]! - single[i]![j]!));
    expect(maxDiff).toBeLessThan(1e-5);
    // Different noise really reaches each item: the two faces differ.
    expect(single[0]!.some((v, j) => v !== single[1]![j])).toBe(true);
    await batched.release();
    await plain.release();
  });
});

describe("pruning the real student graph to one output", () => {
  it("each pruned graph gives exactly the full graph's output, with fewer nodes and weights", async () => {
    const { m, net, original } = realStudent();
    const outputs = graphOutputs(original);
    expect(outputs).toEqual(net.outputs.map((o) => o.name));
    const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, executionProviders: ["cpu"] };
    const full = await ort.InferenceSession.create(original, opts);
    const { name, nW } = wInput(net);
    let state = 7;
    const rnd = (n: number) => Float32Array.from({ length: n }, () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
    const feeds: Record<string, ort.Tensor> = { [name]: new ort.Tensor("float32", rnd(nW * m.style_dim), [1, nW, m.style_dim]) };
    for (const n of noiseInputs(net)) feeds[n.name] = new ort.Tensor("float32", rnd(n.size * n.size), [1, 1, n.size, n.size]);
    let prevNodes = 0;
    for (const out of outputs) {
      const p = pruneToOutputs(original, [out]);
      expect(graphOutputs(p.model)).toEqual([out]);
      expect(p.nodesAfter).toBeGreaterThan(prevNodes); // deeper heads need more of the graph
      expect(p.model.length).toBeLessThanOrEqual(original.length);
      prevNodes = p.nodesAfter;
      if (out !== outputs[outputs.length - 1]) {
        expect(p.nodesAfter).toBeLessThan(p.nodesBefore);
        expect(p.model.length).toBeLessThan(original.length);
      }
      // Every input stays declared, so the same feeds work (inputs a head does not use are simply ignored).
      const pruned = await ort.InferenceSession.create(p.model, opts);
      expect([...pruned.inputNames].sort()).toEqual([...full.inputNames].sort());
      const a = (await pruned.run(feeds, [out]))[out]!.data as Float32Array;
      const b = (await full.run(feeds, [out]))[out]!.data as Float32Array;
      expect(a.length).toBe(b.length);
      expect(a.every((v, i) => v === b[i])).toBe(true);
      await pruned.release();
    }
    expect(() => pruneToOutputs(original, ["img_3"])).toThrow(/no output img_3/);
    expect(() => pruneToOutputs(original, [])).toThrow(/no outputs/);
    await full.release();
  });
});
