// Determinism across runtimes: the same URL drawn by the worker in workerd and by the same shared pipeline in
// Node must give the same PNG bytes when the same ORT build runs the model (onnxruntime-web's wasm), and nearly the
// same pixels with onnxruntime-node's native CPU kernels (what the origin uses).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import * as ortNode from "onnxruntime-node";
import * as ortWeb from "onnxruntime-web";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ModelRunner, Tensor } from "../../src/shared/face.js";
import { renderFacePixels } from "../../src/shared/face.js";
import type { Manifest } from "../../src/shared/manifest.js";
import { edgeNetworkFile, parseManifest, sessionExtra } from "../../src/shared/manifest.js";
import { graphOutputs, pruneToOutputs } from "../../src/shared/onnx-prune.js";
import { encodeImage } from "../../src/shared/codecs.js";
import { installNodeCodecs } from "../../src/origin/codecs-node.js";
import { parseFaceRequest, parseMorphRequest } from "../../src/shared/params.js";
import { encodePng } from "../../src/shared/png.js";
import { decodePng, psnr, rgbOf } from "../helpers/png.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { REPO, startWorker } from "../../harness/worker.js";

type Ort = typeof ortWeb | typeof ortNode;
// The models root the worker was built from (SEEDFACE_MODELS_DIR, as for `npm run build`), default ./models.
const modelsRoot = process.env.SEEDFACE_MODELS_DIR ?? resolve(REPO, "models");
const id = JSON.parse(readFileSync(resolve(modelsRoot, "default.json"), "utf8")).default;
const dir = resolve(modelsRoot, id);
const m: Manifest = parseManifest(JSON.parse(readFileSync(resolve(dir, "manifest.json"), "utf8")));
const studentFile = edgeNetworkFile(m, "student");
const mappingFile = edgeNetworkFile(m, "mapping");
const files: Record<string, string> = { mapping: mappingFile.file, student: studentFile.file };
// The edge's files and session options (src/edge/ort-runtime.ts), incl. the quantized networks' session config.
const extras: Record<string, Record<string, Record<string, string>>> = {
  mapping: sessionExtra(m, mappingFile.precision),
  student: sessionExtra(m, studentFile.precision),
};

/**
 * The shared pipeline's runner over `ort`, with the edge's session layout (src/edge/edge-model.ts): one mapping
 * session, and one student session per output over the graph pruned to it, fed only the inputs that graph reads
 * (onnxruntime runs every node of a graph whatever outputs are asked for: a whole FFHQ student costs its 1024 px
 * head on every face).
 */
function runner(ort: Ort, provider: string): ModelRunner {
  const sessions = new Map<string, Promise<ortWeb.InferenceSession>>();
  const session = (net: string, output?: string): Promise<ortWeb.InferenceSession> => {
    const key = output ? `${net}/${output}` : net;
    if (!sessions.has(key)) {
      let bytes: Uint8Array = new Uint8Array(readFileSync(resolve(dir, files[net]!)));
      if (output && graphOutputs(bytes).length > 1) bytes = pruneToOutputs(bytes, [output], { dropUnusedInputs: true }).model;
      sessions.set(key, (ort.InferenceSession as typeof ortWeb.InferenceSession).create(bytes, {
        executionProviders: [provider], intraOpNumThreads: 1, graphOptimizationLevel: "all", extra: extras[net],
      }));
    }
    return sessions.get(key)!;
  };
  return {
    async inputsFor(net, output) {
      return (await session(net, output)).inputNames;
    },
    async run(net, feeds, outputs) {
      const s = await session(net, net === "student" ? outputs[0] : undefined);
      const f: Record<string, ortWeb.Tensor> = {};
      for (const k of s.inputNames) {
        const t = feeds[k];
        if (!t) throw new Error(`${net} needs input ${k}`);
        f[k] = new (ort.Tensor as typeof ortWeb.Tensor)("float32", t.data, t.dims);
      }
      const r = await s.run(f, outputs);
      const out: Record<string, Tensor> = {};
      for (const n of outputs) out[n] = { data: r[n]!.data as Float32Array, dims: [...r[n]!.dims] };
      return out;
    },
  };
}

let w: WorkerHandle;
beforeAll(async () => {
  ortWeb.env.wasm.numThreads = 1;
  w = await startWorker();
});
afterAll(async () => w?.dispose());

describe("workerd vs Node", () => {
  // Small sizes (FFHQ faces are slow; its serving table draws 33..256 px from the 256 px level): a level's own size,
  // a psi, sizes between levels (resampled), from three or four different levels.
  const queries = ["size=64", "size=32&psi=0.5", "size=20", "size=16"];
  it("Node with the same ORT wasm build gives byte-identical PNGs", async () => {
    const web = runner(ortWeb, "wasm");
    for (const q of queries) {
      const req = parseFaceRequest("alice@example.com.png", new URLSearchParams(q), { psi: m.truncation.default_psi });
      const edge = new Uint8Array(await (await fetch(`${w.url}/face/alice@example.com.png?${q}`)).arrayBuffer());
      const node = await encodePng(await renderFacePixels(web, m, req), req.size, req.size);
      expect(Buffer.from(node).equals(Buffer.from(edge)), q).toBe(true);
    }
    const morph = parseMorphRequest("a/b.png", new URLSearchParams("t=0.3&size=32"), { psi: m.truncation.default_psi });
    const edge = new Uint8Array(await (await fetch(`${w.url}/morph/a/b.png?t=0.3&size=32`)).arrayBuffer());
    expect(Buffer.from(await encodePng(await renderFacePixels(web, m, morph), 32, 32)).equals(Buffer.from(edge))).toBe(true);
  });

  it("WebP, JPEG and AVIF: the edge's bytes are Node's, encoded by the same wasm codecs from the same pixels", async () => {
    installNodeCodecs();
    const web = runner(ortWeb, "wasm");
    for (const [ext, format] of [["webp", "webp"], ["jpg", "jpeg"], ["avif", "avif"]] as const) {
      for (const q of ["size=64", "size=20&psi=0.5"]) {
        const req = parseFaceRequest(`carol.${ext}`, new URLSearchParams(q), { psi: m.truncation.default_psi });
        const edge = new Uint8Array(await (await fetch(`${w.url}/face/carol.${ext}?${q}`)).arrayBuffer());
        const node = await encodeImage(format, await renderFacePixels(web, m, req), req.size, req.size);
        expect(node.length, `${ext} ${q}`).toBeGreaterThan(100);
        expect(Buffer.from(node).equals(Buffer.from(edge)), `${ext} ${q}: node ${node.length} B, edge ${edge.length} B`).toBe(true);
      }
    }
  });

  it("onnxruntime-node (native CPU, the origin's runtime) gives the same picture within 40 dB", async () => {
    const native = runner(ortNode, "cpu");
    for (const q of queries) {
      const req = parseFaceRequest("bob.png", new URLSearchParams(q), { psi: m.truncation.default_psi });
      const edge = rgbOf(decodePng(new Uint8Array(await (await fetch(`${w.url}/face/bob.png?${q}`)).arrayBuffer())));
      const node = await renderFacePixels(native, m, req);
      expect(psnr(node, edge), q).toBeGreaterThanOrEqual(40);
    }
  });
});
