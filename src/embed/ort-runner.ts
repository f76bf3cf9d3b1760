// onnxruntime-web in the browser: loads the WebGPU (JSEP) or plain WASM build from the embed origin and runs the
// model's networks as a ModelRunner for the shared face pipeline (src/shared/face.ts), like the edge
// (src/edge/edge-model.ts): the mapping session, and one student session per level over the graph pruned to that
// level's output (src/shared/onnx-prune.ts), created on first use and fed only the inputs that graph reads.
import type * as Ort from "onnxruntime-web";
import type { ModelRunner, Tensor } from "../shared/face.js";
import type { Manifest } from "../shared/manifest.js";
import { networkFile, sessionExtra } from "../shared/manifest.js";
import { graphOutputs, pruneToOutputs } from "../shared/onnx-prune.js";
import type { Network } from "../shared/params.js";
import type { ClientPath } from "./messages.js";
import type { ModelStore } from "./model-store.js";

declare const __ORT_VERSION__: string;

const BUILDS: Record<ClientPath, { mjs: string; wasm: string }> = {
  webgpu: { mjs: "ort.bundle.min.mjs", wasm: "ort-wasm-simd-threaded.jsep.wasm" },
  wasm: { mjs: "ort.wasm.bundle.min.mjs", wasm: "ort-wasm-simd-threaded.wasm" },
};

/**
 * Level sessions kept alive per page: a page usually shows one or two sizes; more live sessions only hold memory
 * (each keeps its own copy of its weights). The least recently used one is released beyond this.
 */
export const MAX_LEVEL_SESSIONS = 2;

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

interface LevelSession {
  promise: Promise<Ort.InferenceSession>;
  lastUsed: number;
}

export class OrtRunner implements ModelRunner {
  private readonly levels = new Map<string, LevelSession>();
  private clock = 0;
  /** Graph inputs fed to the student in its latest run (for the render event; tests check them). */
  lastStudentInputs: readonly string[] = [];

  private constructor(
    private readonly ort: typeof Ort,
    private readonly options: Ort.InferenceSession.SessionOptions,
    private readonly mapping: Ort.InferenceSession,
    private readonly student: Uint8Array,
    readonly precision: string,
  ) {}

  /**
   * The mapping session and the student's bytes, in the precisions the edge uses (same faces as the edge). Student
   * level sessions are created when a size first needs them.
   */
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
    const withExtra = (precision: string) => {
      const extra = sessionExtra(m, precision);
      return Object.keys(extra).length ? { ...options, extra } : options;
    };
    const mapping = await ort.InferenceSession.create(new Uint8Array(mapBytes), withExtra(map.precision));
    return new OrtRunner(ort, withExtra(file.precision), mapping, new Uint8Array(stBytes), file.precision);
  }

  /** Outputs with a live (or starting) student session, least recently used first. */
  get liveLevels(): string[] {
    return [...this.levels.entries()].sort((a, b) => a[1].lastUsed - b[1].lastUsed).map(([o]) => o);
  }

  /** The session of the student graph pruned to `output` (as the edge does), created on first use. */
  private levelSession(output: string): Promise<Ort.InferenceSession> {
    let e = this.levels.get(output);
    if (!e) {
      // Renders run one at a time (face-worker.ts), so an older session is idle when a new one is made.
      while (this.levels.size >= MAX_LEVEL_SESSIONS) {
        const [old] = this.liveLevels;
        const s = this.levels.get(old!)!;
        this.levels.delete(old!);
        void s.promise.then((x) => x.release()).catch(() => {});
      }
      const graph = graphOutputs(this.student).length > 1 ? pruneToOutputs(this.student, [output], { dropUnusedInputs: true }).model : this.student;
      const promise = this.ort.InferenceSession.create(graph, this.options);
      e = { promise, lastUsed: 0 };
      promise.catch(() => { if (this.levels.get(output) === e) this.levels.delete(output); });
      this.levels.set(output, e);
    }
    e.lastUsed = ++this.clock;
    return e.promise;
  }

  async inputsFor(network: Network, output: string): Promise<readonly string[]> {
    if (network !== "student") throw new Error(`no ${network} network in the browser`);
    return (await this.levelSession(output)).inputNames;
  }

  async run(network: "mapping" | Network, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, Tensor>> {
    let session: Ort.InferenceSession;
    if (network === "mapping") session = this.mapping;
    else if (network === "student") {
      if (outputs.length !== 1) throw new Error("the browser's student sessions produce one output each");
      session = await this.levelSession(outputs[0]!);
    } else throw new Error(`no ${network} network in the browser`);
    const input: Record<string, Ort.Tensor> = {};
    for (const name of session.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`${network} needs input ${name}`);
      input[name] = new this.ort.Tensor("float32", t.data, t.dims);
    }
    if (network === "student") this.lastStudentInputs = [...session.inputNames];
    const result = await session.run(input, outputs);
    const out: Record<string, Tensor> = {};
    for (const name of outputs) {
      const t = result[name];
      if (!t) throw new Error(`${network} returned no ${name}`);
      out[name] = { data: (await t.getData()) as Float32Array, dims: [...t.dims] };
    }
    for (const t of Object.values(result)) t.dispose();
    return out;
  }
}
