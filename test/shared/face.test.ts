// The face pipeline with a runner that runs per-output pruned graphs (as the edge does): only the inputs the
// pruned graph reads are computed and fed, and the result equals the whole graph's.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import type { ModelRunner, Tensor } from "../../src/shared/face.js";
import { renderPlanar } from "../../src/shared/face.js";
import { noiseInputs, parseManifest, sessionExtra } from "../../src/shared/manifest.js";
import { graphInputs, pruneToOutputs } from "../../src/shared/onnx-prune.js";
import { parseFaceRequest } from "../../src/shared/params.js";
import { noiseFromSeed } from "../../src/shared/seed.js";
import { FACES64, hasFaces64 } from "../helpers/model-dir.js";

const m = hasFaces64 ? parseManifest(JSON.parse(readFileSync(join(FACES64, "manifest.json"), "utf8"))) : undefined;
const req = parseFaceRequest("alice.png", new URLSearchParams("size=32"), { psi: 0.7 });

describe.skipIf(!hasFaces64)("renderPlanar with inputsFor", () => {
  it("computes and feeds only the noise maps the runner's graph takes, each equal to its seed stream", async () => {
    const noise = noiseInputs(m!.networks.student);
    const wanted = ["w", noise[0]!.name, noise[2]!.name];
    let studentFeeds: Record<string, Tensor> = {};
    const runner: ModelRunner = {
      async inputsFor(network, output) {
        expect([network, output]).toEqual(["student", "img_32"]);
        return wanted;
      },
      async run(network, feeds, outputs) {
        if (network === "mapping") return { [outputs[0]!]: { data: new Float32Array(m!.style_dim), dims: [1, m!.style_dim] } };
        studentFeeds = feeds;
        return { [outputs[0]!]: { data: new Float32Array(3 * 32 * 32), dims: [1, 3, 32, 32] } };
      },
    };
    await renderPlanar(runner, m!, req, { output: "img_32" });
    expect(Object.keys(studentFeeds).sort()).toEqual([...wanted].sort());
    for (const n of [noise[0]!, noise[2]!]) {
      expect(studentFeeds[n.name]!.dims).toEqual([1, 1, n.size, n.size]);
      expect(Buffer.from(studentFeeds[n.name]!.data.buffer).equals(Buffer.from((await noiseFromSeed("alice", n.index, n.size)).buffer))).toBe(true);
    }
  });
});

describe.skipIf(!hasFaces64)("pruneToOutputs dropUnusedInputs", () => {
  it("gives a graph that takes only its inputs and computes the same image as the whole graph (onnxruntime-web)", async () => {
    ort.env.wasm.numThreads = 1;
    const bytes = new Uint8Array(readFileSync(join(FACES64, m!.networks.student.files.int8!)));
    const keepAll = pruneToOutputs(bytes, ["img_32"]);
    const pruned = pruneToOutputs(bytes, ["img_32"], { dropUnusedInputs: true });
    expect(keepAll.inputs).toEqual(graphInputs(bytes));
    expect(pruned.inputs.length).toBeLessThan(keepAll.inputs.length);
    expect(pruned.inputs).toEqual(graphInputs(pruned.model));
    const opts = { executionProviders: ["wasm"], graphOptimizationLevel: "all" as const, extra: sessionExtra(m!, "int8") };
    const full = await ort.InferenceSession.create(bytes, opts);
    const small = await ort.InferenceSession.create(pruned.model, opts);
    expect([...small.inputNames].sort()).toEqual([...pruned.inputs].sort());
    const feeds: Record<string, ort.Tensor> = {};
    let x = 1;
    for (const spec of m!.networks.student.inputs) {
      const dims = spec.shape.map((d) => (typeof d === "number" ? d : 1));
      const data = Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => ((x = (x * 48271) % 2147483647) / 2147483647) - 0.5);
      feeds[spec.name] = new ort.Tensor("float32", data, dims);
    }
    const a = (await full.run(feeds, ["img_32"])).img_32!.data as Float32Array;
    const only = Object.fromEntries(pruned.inputs.map((n) => [n, feeds[n]!]));
    const b = (await small.run(only, ["img_32"])).img_32!.data as Float32Array;
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    await full.release();
    await small.release();
  });
});
