// Types and validation of models/<id>/manifest.json (docs/model-format.md, seedface-model/1) and the questions
// the runtimes ask of it: which file to load, which output serves a size, which noise maps to feed.

import type { SchemaError } from "./manifest-validate.generated.js";
import { validateManifestSchema } from "./manifest-validate.generated.js";

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
  /** Earlier versions whose faces without attribute options are this version's, byte for byte (still served). */
  earlier_versions?: EarlierVersion[];
}
export interface EarlierVersion {
  version: string;
  /** What changed since (why faces with attribute options are not served under it). */
  changed: string;
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

/** A JSON pointer (Ajv's instancePath, "/networks/student/outputs/0") as a field name: networks.student.outputs[0]. */
function fieldName(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out;
}

/** The value at a JSON pointer inside x (undefined when there is none). */
function valueAt(x: unknown, pointer: string): unknown {
  let v = x;
  for (const raw of pointer.split("/").slice(1)) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[raw.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return v;
}

const shown = (v: unknown): string => (v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v)).slice(0, 60));

/**
 * One message for the schema's verdict, naming the field: the deepest error (inside an anyOf, the branch that got
 * furthest); where the branches fail at the same field on its type or value, the alternatives are listed.
 */
function schemaMessage(x: unknown, errors: readonly SchemaError[]): string {
  const concrete = errors.filter((e) => e.keyword !== "anyOf" && e.keyword !== "oneOf");
  if (concrete.length === 0) return `${fieldName(errors[0]?.instancePath ?? "") || "the manifest"} does not match manifest.schema.json`;
  const depth = (e: SchemaError) => (e.instancePath === "" ? 0 : e.instancePath.split("/").length);
  const deepest = Math.max(...concrete.map(depth));
  const at = concrete.filter((e) => depth(e) === deepest);
  const e = at[at.length - 1]!;
  const where = fieldName(e.instancePath) || "the manifest";
  const value = valueAt(x, e.instancePath);
  const p = e.params;
  if (at.every((f) => f.instancePath === e.instancePath && (f.keyword === "type" || f.keyword === "const"))) {
    const alternatives = [...new Set(at.flatMap((f) => (f.keyword === "type" ? [f.params.type].flat().map(String) : [JSON.stringify(f.params.allowedValue)])))];
    return `${where} must be ${alternatives.join(" or ")} (got ${shown(value)})`;
  }
  switch (e.keyword) {
    case "required":
      return `${where === "the manifest" ? "" : `${where}.`}${String(p.missingProperty)} is required`;
    case "enum":
      return `${where} must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")} (got ${shown(value)})`;
    case "minItems":
      return `${where} must have at least ${String(p.limit)} item(s)`;
    case "minLength":
      return `${where} must be a non-empty string`;
    case "pattern":
      return `${where} ${shown(value)} does not match ${String(p.pattern)}`;
    case "minimum":
      return `${where} must be >= ${String(p.limit)} (got ${shown(value)})`;
    default:
      return `${where} fails the schema's ${e.keyword} rule ${JSON.stringify(p)}`;
  }
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

/**
 * Validate any manifest, teacher-only ones included: the JSON Schema (src/shared/manifest.schema.json, compiled ahead
 * of time into manifest-validate.generated.ts), then the rules across fields that a schema cannot state, the same as
 * the Python tools' (seedface.release.manifest.validate). Throws ManifestError with the first problem found.
 */
export function parseAnyManifest(x: unknown): AnyManifest {
  if (!isObj(x)) fail("not an object");
  if (!validateManifestSchema(x)) fail(schemaMessage(x, validateManifestSchema.errors ?? []));
  const raw = x as unknown as AnyManifest & { networks: { teacher?: NetworkSpec | null } };
  const networks = {
    mapping: { ...raw.networks.mapping },
    student: raw.networks.student === null ? null : { ...raw.networks.student },
    ...(raw.networks.teacher ? { teacher: { ...raw.networks.teacher } } : {}),
  };
  const m: AnyManifest = { ...raw, networks };
  crossFieldRules(m, raw.networks as Record<string, NetworkSpec | null>);
  return m;
}

/** What the schema cannot say (the schema's description lists these; Python checks the same). */
function crossFieldRules(m: AnyManifest, nets: Record<string, NetworkSpec | null>): void {
  if (m.truncation.mean.length !== m.style_dim) fail(`truncation.mean has ${m.truncation.mean.length} values, style_dim is ${m.style_dim}`);
  if (!m.networks.student && !m.networks.teacher) fail("networks.student is null (teacher-only directory) but there is no networks.teacher");
  for (const [i, e] of (m.earlier_versions ?? []).entries()) {
    if (e.version === m.version) fail(`earlier_versions[${i}].version is this version (${m.version})`);
  }
  const listed = new Set(m.files.map((f) => f.path));
  for (const [name, net] of Object.entries(nets)) {
    if (!net) continue;
    for (const kind of ["inputs", "outputs"] as const) {
      const names = net[kind].map((t) => t.name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup !== undefined) fail(`networks.${name}.${kind}: duplicate name ${JSON.stringify(dup)}`);
    }
    for (const [precision, path] of Object.entries(net.files)) {
      if (!listed.has(path)) fail(`networks.${name}.files.${precision} = ${JSON.stringify(path)} is not listed in files[]`);
    }
  }
  const st = m.networks.student;
  if (!st) return;
  const where = "networks.student";
  if (!st.edge_precision || !(st.edge_precision in st.files)) fail(`${where}.edge_precision ${JSON.stringify(st.edge_precision)} has no file in ${where}.files`);
  const outputs = new Set(st.outputs.map((o) => o.name));
  const levels = st.levels ?? [];
  levels.forEach((l, i) => {
    if (!outputs.has(l.output)) fail(`${where}.levels[${i}].output ${JSON.stringify(l.output)} is not a student output`);
  });
  if (levels[levels.length - 1]?.size !== m.resolution) fail(`the last of ${where}.levels must be the model resolution ${m.resolution} (got ${levels[levels.length - 1]?.size})`);
  const levelOutputs = new Set(levels.map((l) => l.output));
  let prev = 0;
  (st.serving?.sizes ?? []).forEach((row, i) => {
    if (!levelOutputs.has(row.output)) fail(`${where}.serving.sizes[${i}].output ${JSON.stringify(row.output)} is not a student output (has ${[...levelOutputs].join(", ")})`);
    if (row.up_to <= prev) fail(`${where}.serving.sizes must be sorted by strictly increasing up_to (row ${i}: ${row.up_to} after ${prev})`);
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
