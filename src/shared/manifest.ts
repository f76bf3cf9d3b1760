// Types and validation of models/<id>/manifest.json (docs/model-format.md, seedface-model/1) and the questions
// the runtimes ask of it: which file to load, which output serves a size, which noise maps to feed.

export const MODEL_FORMAT = "seedface-model/1";

export type Dim = number | string;
export interface TensorSpec {
  name: string;
  shape: Dim[];
  dtype: string;
  size?: number;
}
export interface Level {
  size: number;
  output: string;
  macs: number;
  peak_activation_bytes: number;
}
/** One row of `networks.student.serving.sizes`: requests of size <= up_to (and above the previous row) use `output`. */
export interface ServingSize {
  up_to: number;
  output: string;
}
/**
 * `networks.student.serving` (optional): how sizes map to student outputs and up to which size the edge draws.
 * Other keys are free-form figures (measurements that led to the table) and are passed through untouched.
 */
export interface StudentServing {
  /** Largest request size the edge draws itself; above it the origin (or, without one, this size upscaled). */
  edge_max_size?: number;
  /** Ascending by up_to: a request of size s renders from the first row with up_to >= s. */
  sizes?: ServingSize[];
  [figure: string]: unknown;
}
export interface NetworkSpec {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  files: Record<string, string>;
  params?: number;
  macs?: number;
  n_w?: number;
  n_layers?: number;
  channels?: number[];
  edge_precision?: string;
  levels?: Level[];
  serving?: StudentServing;
}
export interface FileEntry {
  path: string;
  sha256?: string;
  bytes?: number;
  network?: string;
  precision?: string;
}
export interface Manifest {
  format: string;
  id: string;
  version: string;
  architecture?: string;
  resolution: number;
  style_dim: number;
  seed_algorithm: string;
  trained?: boolean;
  status?: string;
  truncation: { mean: number[]; default_psi: number };
  networks: { mapping: NetworkSpec; student: NetworkSpec; teacher?: NetworkSpec };
  files: FileEntry[];
  quantization?: unknown;
  metrics?: unknown;
  provenance?: unknown;
  training_data?: { name?: string; licence?: string; note?: string };
}
export interface NoiseInput {
  name: string;
  /** Index k of noise_k (the seed stream is 1 + k). */
  index: number;
  size: number;
}

export class ManifestError extends Error {
  override name = "ManifestError";
}

function fail(msg: string): never {
  throw new ManifestError(`manifest.json: ${msg}`);
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function tensors(x: unknown, where: string): TensorSpec[] {
  if (!Array.isArray(x) || x.length === 0) fail(`${where} must be a non-empty array`);
  return x.map((t, i) => {
    if (!isObj(t) || typeof t.name !== "string" || !Array.isArray(t.shape)) fail(`${where}[${i}] needs name and shape`);
    return t as unknown as TensorSpec;
  });
}

function network(x: unknown, name: string): NetworkSpec {
  if (!isObj(x)) fail(`networks.${name} missing`);
  const inputs = tensors(x.inputs, `networks.${name}.inputs`);
  const outputs = tensors(x.outputs, `networks.${name}.outputs`);
  if (!isObj(x.files) || typeof x.files.fp32 !== "string") fail(`networks.${name}.files.fp32 missing`);
  return { ...(x as unknown as NetworkSpec), inputs, outputs };
}

/** A manifest that may be teacher-only (networks.student null, docs/model-format.md): what the origin can serve. */
export type AnyManifest = Omit<Manifest, "networks"> & {
  networks: { mapping: NetworkSpec; student: NetworkSpec | null; teacher?: NetworkSpec };
};

/** Validate a manifest that must have a student (the edge, the browser). Teacher-only models get a clear error. */
export function parseManifest(x: unknown): Manifest {
  const m = parseAnyManifest(x);
  if (!m.networks.student) fail(`model ${m.id} is teacher-only (networks.student is null): it has no student to run`);
  return m as Manifest;
}

/** Validate any manifest, teacher-only ones included. Throws ManifestError with the first problem found. */
export function parseAnyManifest(x: unknown): AnyManifest {
  if (!isObj(x)) fail("not an object");
  if (x.format !== MODEL_FORMAT) fail(`format must be ${MODEL_FORMAT} (got ${JSON.stringify(x.format)})`);
  if (typeof x.id !== "string" || typeof x.version !== "string") fail("id and version must be strings");
  if (!Number.isInteger(x.resolution) || !Number.isInteger(x.style_dim)) fail("resolution and style_dim must be integers");
  if (x.seed_algorithm !== "seedface-seed/1") fail(`unsupported seed_algorithm ${JSON.stringify(x.seed_algorithm)}`);
  const tr = x.truncation;
  if (!isObj(tr) || !Array.isArray(tr.mean) || tr.mean.length !== x.style_dim) fail("truncation.mean must have style_dim values");
  if (typeof tr.default_psi !== "number") fail("truncation.default_psi must be a number");
  if (!isObj(x.networks)) fail("networks missing");
  const networks = {
    mapping: network(x.networks.mapping, "mapping"),
    student: x.networks.student === null ? null : network(x.networks.student, "student"),
    ...(x.networks.teacher ? { teacher: network(x.networks.teacher, "teacher") } : {}),
  };
  if (!networks.student && !networks.teacher) fail("needs a student or a teacher network");
  const m: AnyManifest = { ...(x as unknown as AnyManifest), networks, files: Array.isArray(x.files) ? (x.files as FileEntry[]) : [] };
  if (m.networks.student) {
    studentLevels(m as Manifest); // validates that the student has usable outputs
    if (m.networks.student.serving !== undefined) validateServing(m as Manifest);
  }
  return m;
}

const posInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;

function validateServing(m: Manifest): void {
  const sv: unknown = m.networks.student.serving;
  const where = "networks.student.serving";
  if (!isObj(sv)) fail(`${where} must be an object`);
  if (sv.edge_max_size !== undefined && !posInt(sv.edge_max_size)) fail(`${where}.edge_max_size must be a positive integer`);
  if (sv.sizes === undefined) return;
  if (!Array.isArray(sv.sizes)) fail(`${where}.sizes must be an array`);
  const outputs = new Set(studentLevels(m).map((l) => l.output));
  let prev = 0;
  sv.sizes.forEach((row: unknown, i) => {
    if (!isObj(row) || !posInt(row.up_to) || typeof row.output !== "string") fail(`${where}.sizes[${i}] needs up_to (positive integer) and output`);
    if (!outputs.has(row.output)) fail(`${where}.sizes[${i}].output ${JSON.stringify(row.output)} is not a student output (has ${[...outputs].join(", ")})`);
    if (row.up_to <= prev) fail(`${where}.sizes must be sorted by strictly increasing up_to (row ${i}: ${row.up_to} after ${prev})`);
    prev = row.up_to;
  });
}

/** Spatial size of an image output: its "size" field, else the last dimension of its shape. */
export function outputSize(t: TensorSpec): number {
  if (typeof t.size === "number") return t.size;
  const last = t.shape[t.shape.length - 1];
  if (typeof last !== "number") fail(`output ${t.name} has no static size`);
  return last;
}

/** Student levels sorted by size (from `levels`, else derived from the img_* outputs). */
export function studentLevels(m: Manifest): Level[] {
  const st = m.networks.student;
  const levels = st.levels?.length
    ? st.levels
    : st.outputs.map((o) => ({ size: outputSize(o), output: o.name, macs: 0, peak_activation_bytes: 0 }));
  if (levels.length === 0) fail("student has no image outputs");
  return [...levels].sort((a, b) => a.size - b.size);
}

/**
 * The student level a request of `size` renders from (then resampled to exactly size): the first row of
 * `serving.sizes` with up_to >= size when the manifest has that table, else the smallest level whose size is >= size,
 * else the largest (native) level when size exceeds the model.
 */
export function levelForSize(m: Manifest, size: number): Level {
  const levels = studentLevels(m);
  const row = m.networks.student.serving?.sizes?.find((r) => r.up_to >= size);
  const byTable = row && levels.find((l) => l.output === row.output);
  if (byTable) return byTable;
  return levels.find((l) => l.size >= size) ?? levels[levels.length - 1]!;
}

/** The largest size the edge draws itself (`serving.edge_max_size`), or null when the manifest sets no limit. */
export function edgeMaxSize(m: Manifest): number | null {
  return m.networks.student.serving?.edge_max_size ?? null;
}

/**
 * The levels the edge may draw: every level when there is no edge_max_size; else those no larger than the level
 * that serves edge_max_size (the largest of them is what the edge upscales for bigger sizes without an origin).
 */
export function edgeLevels(m: Manifest): Level[] {
  const levels = studentLevels(m);
  const max = edgeMaxSize(m);
  if (max === null) return levels;
  const top = levelForSize(m, max);
  return levels.filter((l) => l.size <= top.size);
}

/** Output name of a network's image at full resolution (the largest img_* output). */
export function fullOutput(net: NetworkSpec): TensorSpec {
  return [...net.outputs].sort((a, b) => outputSize(b) - outputSize(a))[0]!;
}

/** noise_k inputs of a network, in k order, with their spatial sizes. */
export function noiseInputs(net: NetworkSpec): NoiseInput[] {
  const out: NoiseInput[] = [];
  for (const t of net.inputs) {
    const m = /^noise_(\d+)$/.exec(t.name);
    if (!m) continue;
    const s = t.shape[t.shape.length - 1];
    if (typeof s !== "number") fail(`${t.name} has no static size`);
    out.push({ name: t.name, index: Number(m[1]), size: s });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * The style input: its name, number of style slots (n_w) and rank: 3 for W+ [B, n_w, style_dim], 2 for a graph
 * that takes one style vector [B, style_dim] (imported release graphs).
 */
export function wInput(net: NetworkSpec): { name: string; nW: number; rank: 2 | 3 } {
  const t = net.inputs.find((i) => !i.name.startsWith("noise_"));
  if (!t) fail("network has no w input");
  if (t.shape.length === 2) return { name: t.name, nW: 1, rank: 2 };
  const nW = t.shape.length === 3 && typeof t.shape[1] === "number" ? t.shape[1] : net.n_w;
  if (typeof nW !== "number") fail(`${t.name} has no static n_w`);
  return { name: t.name, nW, rank: 3 };
}

/** File name and precision to load for a network: `preferred` (e.g. edge_precision) when present, else fp32. */
export function networkFile(net: NetworkSpec, preferred?: string): { file: string; precision: string } {
  if (preferred && net.files[preferred]) return { file: net.files[preferred]!, precision: preferred };
  return { file: net.files.fp32!, precision: "fp32" };
}

/**
 * Largest total of a model's int8 edge files (mapping + student at their edge precision) for which runtimes apply
 * `session.disable_quant_qdq` (fold the DequantizeLinear of the weights into fp32 constants at load). Folding makes
 * the weights take 4x their file size in ORT's wasm memory (and every per-level session holds its own copy); above
 * this total the edge and the browser keep the int8 weights and dequantize per run (same arithmetic, results equal
 * to ~1e-6). FFHQ 1024 student, 128 px level: 53.6 MB wasm and 270 ms instead of 99.7 MB and 220 ms folded
 * (docs/model-format.md): inside a 100 MB budget only the unfolded sessions fit.
 */
export const FOLD_INT8_MAX_BYTES = 4 * 1024 * 1024;

/** Bytes of the files the edge loads (mapping and student at their edge precision), from the manifest's files[]. */
export function edgeFileBytes(m: Manifest): { file: string; precision: string; bytes: number | undefined }[] {
  return [edgeNetworkFile(m, "mapping"), edgeNetworkFile(m, "student")].map((f) => ({
    ...f,
    bytes: m.files.find((e) => e.path === f.file)?.bytes,
  }));
}

/** The file and precision the edge (and the browser) loads for mapping or student: its edge_precision, else fp32. */
export function edgeNetworkFile(m: Manifest, network: "mapping" | "student"): { file: string; precision: string } {
  const net = m.networks[network];
  return networkFile(net, net.edge_precision);
}

/** Whether runtimes fold int8 weights at load for this model (see FOLD_INT8_MAX_BYTES). */
export function foldsInt8Weights(m: Manifest): boolean {
  const int8 = edgeFileBytes(m).filter((f) => f.precision !== "fp32");
  return int8.reduce((n, f) => n + (f.bytes ?? 0), 0) <= FOLD_INT8_MAX_BYTES;
}

/**
 * ORT session config entries a quantized network needs (manifest `quantization.session_config`, e.g.
 * `session.disable_quant_qdq: "1"` for int8-weight models, so ORT folds the DequantizeLinear of the weights once at load
 * instead of running it per request; dropped for large models, see FOLD_INT8_MAX_BYTES). Returned as
 * onnxruntime-web's `extra` option; empty for other precisions.
 */
export function sessionExtra(m: Manifest, precision: string): Record<string, Record<string, string>> {
  if (precision === "fp32") return {};
  const q = m.quantization as { session_config?: Record<string, unknown> } | undefined;
  const fold = foldsInt8Weights(m);
  const extra: Record<string, Record<string, string>> = {};
  for (const [key, value] of Object.entries(q?.session_config ?? {})) {
    const dot = key.indexOf(".");
    if (dot <= 0 || typeof value !== "string") continue;
    if (key === "session.disable_quant_qdq" && !fold) continue;
    (extra[key.slice(0, dot)] ??= {})[key.slice(dot + 1)] = value;
  }
  return extra;
}

/** Sizes the edge can render natively (the student levels it may draw, see edgeLevels). */
export function edgeSizes(m: Manifest): number[] {
  return edgeLevels(m).map((l) => l.size);
}

/**
 * The level the edge draws a student face of `size` from when it draws it itself and nothing degrades it (the
 * memory guard's plan without an origin, src/edge/memory-guard.ts): levelForSize, except that sizes above
 * `serving.edge_max_size` come from the level serving edge_max_size, upscaled. The browser (`<seed-face>` in
 * wasm/webgpu mode) draws from this level, so a seed gives the edge's face.
 */
export function edgeDrawLevel(m: Manifest, size: number): Level {
  const max = edgeMaxSize(m);
  return levelForSize(m, max !== null && size > max ? max : size);
}
