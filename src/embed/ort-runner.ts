// onnxruntime-web in the browser: loads the WebGPU (JSEP) or plain WASM build from the embed origin and runs the
// model's networks as a ModelRunner for the shared face pipeline (src/shared/face.ts).
import type * as Ort from "onnxruntime-web";
import type { ModelRunner, Tensor } from "../shared/face.js";
import type { Manifest } from "../shared/manifest.js";
import { networkFile, sessionExtra } from "../shared/manifest.js";
import type { Network } from "../shared/params.js";
import type { ClientPath } from "./messages.js";
import type { ModelStore } from "./model-store.js";

declare const __ORT_VERSION__: string;

const BUILDS: Record<ClientPath, { mjs: string; wasm: string }> = {
  webgpu: { mjs: "ort.bundle.min.mjs", wasm: "ort-wasm-simd-threaded.jsep.wasm" },
  wasm: { mjs: "ort.wasm.bundle.min.mjs", wasm: "ort-wasm-simd-threaded.wasm" },
};

export async function loadOrt(base: string, path: ClientPath): Promise<typeof Ort> {
  const dir = new URL(`embed/ort/${__ORT_VERSION__}/`, base);
  const build = BUILDS[path];
  const ort = (await import(/* @vite-ignore */ new URL(build.mjs, dir).href)) as typeof Ort;
  ort.env.wasm.wasmPaths = { wasm: new URL(build.wasm, dir).href };
  // One thread: the page may not be cross-origin isolated, and faces are small; many elements queue instead.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.logLevel = "error";
  return ort;
}

export class OrtRunner implements ModelRunner {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly sessions: Partial<Record<"mapping" | Network, Ort.InferenceSession>>,
    readonly precision: string,
  ) {}

  /** Sessions for mapping and student, in the precisions the edge uses (same faces as the edge). */
  static async create(ort: typeof Ort, m: Manifest, store: ModelStore, path: ClientPath): Promise<OrtRunner> {
    const options: Ort.InferenceSession.SessionOptions = {
      executionProviders: path === "webgpu" ? ["webgpu", "wasm"] : ["wasm"],
      graphOptimizationLevel: "all",
      logSeverityLevel: 3, // errors only: ORT logs its warnings (e.g. CPU-assigned shape ops) via console.error
    };
    const pick = (net: Manifest["networks"]["student"]) => {
      const edge = networkFile(net, net.edge_precision);
      return store.has(edge.file) ? edge : networkFile(net);
    };
    const map = pick(m.networks.mapping);
    const file = pick(m.networks.student);
    const [mapBytes, stBytes] = await Promise.all([store.bytes(map.file), store.bytes(file.file)]);
    const mapExtra = sessionExtra(m, map.precision);
    const mapping = await ort.InferenceSession.create(new Uint8Array(mapBytes), Object.keys(mapExtra).length ? { ...options, extra: mapExtra } : options);
    const extra = sessionExtra(m, file.precision);
    const st = await ort.InferenceSession.create(new Uint8Array(stBytes), Object.keys(extra).length ? { ...options, extra } : options);
    return new OrtRunner(ort, { mapping, student: st }, file.precision);
  }

  async run(network: "mapping" | Network, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, Tensor>> {
    const session = this.sessions[network];
    if (!session) throw new Error(`no ${network} network in the browser`);
    const input: Record<string, Ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) input[name] = new this.ort.Tensor("float32", t.data, t.dims);
    const result = await session.run(input, outputs);
    const out: Record<string, Tensor> = {};
    for (const name of outputs) {
      const t = result[name];
      if (!t) throw new Error(`${network} returned no ${name}`);
      out[name] = { data: (await t.getData()) as Float32Array, dims: [...t.dims] };
      t.dispose();
    }
    return out;
  }
}
