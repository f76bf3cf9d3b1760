// The model the edge serves, per isolate: the manifest inlined at build time, its edge files (bundled Data modules,
// or fetched once from the static assets and checked against the manifest's sha256 and size), the mapping session,
// one student session per level over the graph pruned to that level's output (created on first use, least recently
// used ones released when the memory guard needs room), and the memory guard's state. Exposed to the shared face
// pipeline as a ModelRunner.
import { modelLabel } from "../shared/contract.js";
import { HttpError } from "../shared/errors.js";
import type { ModelRunner, Tensor } from "../shared/face.js";
import type { Level, Manifest } from "../shared/manifest.js";
import { edgeFileBytes, edgeNetworkFile, foldsInt8Weights, sessionExtra, studentLevels } from "../shared/manifest.js";
import { graphOutputs, pruneToOutputs } from "../shared/onnx-prune.js";
import type { AssetFile } from "./bundled-model.generated.js";
import type { GuardState, LiveSession } from "./memory-guard.js";
import { baselineEstimate, sessionsToEvict } from "./memory-guard.js";
import { createSession, ort, wasmMemoryBytes } from "./ort-runtime.js";

/** After a failed fetch or check of the weights, requests fail fast for this long before the next attempt. */
const RETRY_AFTER_FAILURE_MS = 10_000;

interface LevelSession {
  output: string;
  level: Level;
  promise: Promise<ort.InferenceSession>;
  session?: ort.InferenceSession;
  /** The pruned graph's inputs (the only ones it may be fed). */
  inputs?: string[];
  /** Its weights as held in memory (graph bytes, x4 when int8 weights are folded). */
  weightBytes?: number;
  lastUsed: number;
  /** Renders using it now (+1 while it is being created). */
  users: number;
}

export interface LoadInfo {
  /** ms spent fetching and checking weights from the static assets (first use in the isolate only). */
  fetchMs?: number;
  /** ms spent creating sessions (ORT init, mapping, this level's pruned student). */
  sessionMs?: number;
  evicted: string[];
}

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

function unavailable(message: string): HttpError {
  return new HttpError(503, "model_unavailable", message, { "retry-after": String(RETRY_AFTER_FAILURE_MS / 1000) });
}

export class EdgeModel implements ModelRunner {
  readonly mappingFile: { file: string; precision: string };
  readonly studentFile: { file: string; precision: string };
  /** Where the weights come from: Data modules in the bundle, or the static assets (ASSETS binding). */
  readonly weights: "bundle" | "assets";
  /** Whether int8 weights are folded to fp32 at load (small models; see FOLD_INT8_MAX_BYTES). */
  readonly foldInt8: boolean;
  private readonly files = new Map<string, Uint8Array>();
  private fetching: Promise<number> | undefined;
  private failure: { error: HttpError; until: number } | undefined;
  private mapping: Promise<ort.InferenceSession> | undefined;
  private mappingReady = false;
  private readonly students = new Map<string, LevelSession>();
  private clock = 0;
  private budgetBytes = Infinity;
  /** Memory guard state of this isolate: wasm memory once ORT + mapping are loaded, levels drawn so far. */
  private measuredBaseline: number | undefined;
  readonly drawn = new Set<number>();
  /** Student sessions released to make room, since the isolate started. */
  evictions = 0;

  constructor(
    readonly manifest: Manifest,
    bundled: Record<string, ArrayBuffer>,
    private readonly assetFiles: Record<string, AssetFile>,
  ) {
    this.mappingFile = edgeNetworkFile(manifest, "mapping");
    this.studentFile = edgeNetworkFile(manifest, "student");
    this.foldInt8 = foldsInt8Weights(manifest);
    for (const [name, buf] of Object.entries(bundled)) this.files.set(name, new Uint8Array(buf));
    this.weights = Object.keys(assetFiles).length > 0 ? "assets" : "bundle";
  }

  /** X-Face-Model value for faces this edge renders. */
  get label(): string {
    return modelLabel(this.manifest.id, this.manifest.version, "student", this.studentPrecision);
  }

  get studentPrecision(): string {
    return this.studentFile.precision;
  }

  /** ETag variant of faces drawn here: the student's precision, plus the mapping's when it is not fp32. */
  get variant(): string {
    return this.mappingFile.precision === "fp32" ? this.studentPrecision : `${this.studentPrecision}-map${this.mappingFile.precision}`;
  }

  /** Mapping and at least one student level session exist. */
  get sessionsLoaded(): boolean {
    return this.mappingReady && [...this.students.values()].some((s) => s.session);
  }

  /** Outputs with a live student session, most recently used last. */
  get liveLevels(): string[] {
    return [...this.students.values()].filter((s) => s.session).sort((a, b) => a.lastUsed - b.lastUsed).map((s) => s.output);
  }

  /** Why the weights could not be loaded, while that failure is remembered (null otherwise). */
  get weightsError(): string | null {
    return this.failure ? this.failure.error.message : null;
  }

  /** Live student sessions with the inputs their pruned graphs take. */
  sessionInfo(): { output: string; inputs: string[] }[] {
    return this.liveLevels.map((o) => ({ output: o, inputs: this.students.get(o)?.inputs ?? [] }));
  }

  private bytesOf(name: string): number {
    const asset = this.assetFiles[name];
    return this.files.get(name)?.byteLength ?? asset?.bytes ?? edgeFileBytes(this.manifest).find((f) => f.file === name)?.bytes ?? 0;
  }

  /** The memory guard's view of this isolate for a budget. */
  guardState(budgetBytes: number): GuardState {
    const factor = (precision: string) => (precision !== "fp32" && this.foldInt8 ? 4 : 1);
    return {
      budgetBytes,
      baselineBytes: this.measuredBaseline ?? baselineEstimate(this.bytesOf(this.mappingFile.file) * factor(this.mappingFile.precision)),
      weightBytes: this.bytesOf(this.studentFile.file) * factor(this.studentPrecision),
      drawn: this.drawn,
    };
  }

  /** Fetch (assets) the named files that are not in memory, checking each against the manifest. */
  private async need(names: string[], assets: Fetcher | undefined): Promise<number> {
    const missing = names.filter((n) => !this.files.has(n));
    if (missing.length === 0) return 0;
    if (this.failure && Date.now() < this.failure.until) throw this.failure.error;
    if (!this.fetching) {
      this.fetching = this.fetchFiles(missing, assets).then(
        (ms) => {
          this.failure = undefined;
          return ms;
        },
        (e: unknown) => {
          const error = e instanceof HttpError ? e : unavailable(`could not load the model's weights: ${String((e as Error)?.message ?? e)}`);
          console.error(`edge model: ${error.message}`);
          this.failure = { error, until: Date.now() + RETRY_AFTER_FAILURE_MS };
          throw error;
        },
      ).finally(() => (this.fetching = undefined));
    }
    const ms = await this.fetching;
    // Another caller's fetch may have been for other files: fetch the rest.
    return names.some((n) => !this.files.has(n)) ? ms + (await this.need(names, assets)) : ms;
  }

  private async fetchFiles(names: string[], assets: Fetcher | undefined): Promise<number> {
    const t0 = performance.now();
    if (!assets) throw unavailable("this worker's weights are served from static assets, and it has no ASSETS binding");
    const got = await Promise.all(names.map(async (name) => {
      const a = this.assetFiles[name];
      if (!a) throw unavailable(`this build neither bundles nor lists ${name} (named in the manifest)`);
      const entry = this.manifest.files.find((f) => f.path === name);
      const wantBytes = entry?.bytes ?? a.bytes;
      const wantSha = entry?.sha256 ?? a.sha256;
      const res = await assets.fetch(new Request(`https://assets.invalid${a.path}`));
      if (res.status !== 200) {
        await res.body?.cancel();
        throw unavailable(`${name}: the static assets answer HTTP ${res.status} for ${a.path} (deploy dist-assets/ built with this worker)`);
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (bytes.byteLength !== wantBytes) {
        throw unavailable(`${name} from the static assets has ${bytes.byteLength} bytes, the manifest says ${wantBytes}: not using it`);
      }
      const sha = hex(await crypto.subtle.digest("SHA-256", bytes));
      if (sha !== wantSha) throw unavailable(`${name} from the static assets has sha256 ${sha}, the manifest says ${wantSha}: not using it`);
      return [name, bytes] as const;
    }));
    for (const [name, bytes] of got) this.files.set(name, bytes);
    return performance.now() - t0;
  }

  private mappingSession(assets: Fetcher | undefined): Promise<ort.InferenceSession> {
    if (!this.mapping) {
      const p = (async () => {
        await this.need([this.mappingFile.file], assets);
        const s = await createSession(this.files.get(this.mappingFile.file)!, sessionExtra(this.manifest, this.mappingFile.precision));
        this.measuredBaseline ??= wasmMemoryBytes();
        this.mappingReady = true;
        // The mapping session lives as long as the isolate: fetched bytes are not needed again.
        if (this.weights === "assets") this.files.delete(this.mappingFile.file);
        return s;
      })();
      p.catch(() => (this.mapping = undefined));
      this.mapping = p;
    }
    return this.mapping;
  }

  private level(output: string): Level {
    const l = studentLevels(this.manifest).find((x) => x.output === output);
    if (!l) throw new Error(`the student has no output ${output}`);
    return l;
  }

  /** Release idle sessions (LRU first) so that a session for `level` fits the budget. */
  private makeRoom(level: Level): string[] {
    const live: LiveSession[] = [...this.students.values()].map((s) => ({
      output: s.output, level: s.level, lastUsed: s.lastUsed, busy: s.users > 0 || !s.session, weightBytes: s.weightBytes,
    }));
    const evict = sessionsToEvict(live, level, this.guardState(this.budgetBytes));
    for (const out of evict) {
      const s = this.students.get(out)!;
      this.students.delete(out);
      this.evictions++;
      void s.session?.release().catch((e: unknown) => console.warn(`releasing the ${out} session failed: ${e}`));
    }
    return evict;
  }

  /**
   * After a draw: when ORT's memory has outgrown the budget anyway (the estimates were low), release every idle level
   * session, so that the next ones reuse that memory instead of growing it further. Returns the released outputs.
   */
  trim(): string[] {
    if (wasmMemoryBytes() <= this.budgetBytes) return [];
    const idle = [...this.students.values()].filter((s) => s.session && s.users === 0).map((s) => s.output);
    for (const out of idle) {
      const s = this.students.get(out)!;
      this.students.delete(out);
      this.evictions++;
      void s.session?.release().catch((e: unknown) => console.warn(`releasing the ${out} session failed: ${e}`));
    }
    if (idle.length) console.warn(`ORT wasm memory ${wasmMemoryBytes()} B is over the budget ${this.budgetBytes} B: released ${idle.join(", ")}`);
    return idle;
  }

  /** The session of one student level; `users` is already counted for the caller (release with done()). */
  private studentSession(output: string, assets: Fetcher | undefined, evicted: string[] = []): LevelSession {
    let entry = this.students.get(output);
    if (entry) {
      entry.users++;
      entry.lastUsed = ++this.clock;
      return entry;
    }
    const level = this.level(output);
    evicted.push(...this.makeRoom(level));
    const e: LevelSession = { output, level, lastUsed: ++this.clock, users: 1, promise: undefined as unknown as Promise<ort.InferenceSession> };
    e.promise = (async () => {
      await this.need([this.studentFile.file], assets);
      const bytes = this.files.get(this.studentFile.file)!;
      // A graph per output, without the inputs it does not read (a 64 px head needs no 512x512 noise maps).
      const graph = graphOutputs(bytes).length > 1 ? pruneToOutputs(bytes, [output], { dropUnusedInputs: true }).model : bytes;
      const s = await createSession(graph, sessionExtra(this.manifest, this.studentPrecision));
      e.weightBytes = graph.byteLength * (this.studentPrecision !== "fp32" && this.foldInt8 ? 4 : 1);
      e.session = s;
      e.inputs = [...s.inputNames];
      return s;
    })();
    e.promise.catch(() => {
      if (this.students.get(output) === e) this.students.delete(output);
    });
    this.students.set(output, e);
    return e;
  }

  /**
   * Make sure the mapping and the session for `output` exist (fetching weights on first use), within `budgetBytes`.
   * Throws HttpError 503 model_unavailable when the weights cannot be fetched or fail their check.
   */
  async ensure(output: string, assets: Fetcher | undefined, budgetBytes: number): Promise<LoadInfo> {
    this.budgetBytes = budgetBytes;
    this.assets = assets;
    const info: LoadInfo = { evicted: [] };
    const cold = !this.mappingReady || !this.students.get(output)?.session;
    if (this.weights === "assets" && cold) {
      const names = [...(this.mappingReady ? [] : [this.mappingFile.file]), this.studentFile.file];
      const ms = await this.need(names, assets);
      if (ms > 0) info.fetchMs = ms;
    }
    const t0 = performance.now();
    await this.mappingSession(assets);
    const e = this.studentSession(output, assets, info.evicted);
    try {
      await e.promise;
    } finally {
      e.users--;
    }
    if (cold) info.sessionMs = performance.now() - t0;
    return info;
  }

  /** The Fetcher of the latest request (sessions created later, after an eviction, fetch through it). */
  private assets: Fetcher | undefined;

  async inputsFor(network: string, output: string): Promise<readonly string[]> {
    if (network !== "student") throw new Error(`the edge does not run ${network}`);
    const e = this.studentSession(output, this.assets);
    try {
      await e.promise;
      return e.inputs!;
    } finally {
      e.users--;
    }
  }

  async run(network: string, feeds: Record<string, Tensor>, outputs: string[]): Promise<Record<string, Tensor>> {
    let done = () => {};
    let session: ort.InferenceSession;
    if (network === "mapping") {
      session = await this.mappingSession(this.assets);
    } else if (network === "student") {
      if (outputs.length !== 1) throw new Error("the edge's student sessions produce one output each");
      const e = this.studentSession(outputs[0]!, this.assets);
      done = () => e.users--;
      try {
        session = await e.promise;
      } catch (err) {
        done();
        throw err;
      }
    } else {
      throw new Error(`the edge does not run ${network}`);
    }
    try {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const name of session.inputNames) {
        const t = feeds[name];
        if (!t) throw new Error(`${network} needs input ${name}`);
        ortFeeds[name] = new ort.Tensor("float32", t.data, t.dims);
      }
      const res = await session.run(ortFeeds, outputs);
      const out: Record<string, Tensor> = {};
      for (const name of outputs) {
        const t = res[name];
        if (!t) throw new Error(`${network} returned no ${name}`);
        out[name] = { data: (await t.getData()) as Float32Array, dims: [...t.dims] };
      }
      for (const t of Object.values(res)) t.dispose();
      return out;
    } finally {
      done();
    }
  }
}
