// Attribute control (issue 16): gender / age / expression options move a seed's truncated w along directions fitted
// in w (models/<id>/attributes.json, format seedface-attributes/1), just far enough to land in the asked class, with
// the attributes not asked for held in place. The TypeScript twin of training/seedface/pipeline/attributes.py: same file,
// same options, same bits (vectors/attributes.json pins both; docs/attributes.md).
//
// The edit, float64 then one rounding to float32 (only + - * / in a fixed order, so JS and Python agree bit for bit):
//   p_k = sum_i n_k[i] * w[i]                        every attribute k of the file, i = 0..style_dim-1 in order
//   t_k = clamp(p_k, lo_k, hi_k) when k is asked     (unchanged when already inside), t_k = p_k otherwise
//                                                    (k is asked when its option is, with a value it has a class for)
//   all t_k == p_k  ->  w unchanged (the seed already matches)
//   else c = G^-1 (t - p), G_kl = n_k . u_l          (Gaussian elimination without pivoting, rows in file order)
//   w'[i] = fround(w[i] + sum_k c_k u_k[i])          (the smallest move with n_k . w' = t_k for all k)
// u_k is the direction's `move` vector where it has one (M^-1 n_k: the smallest move in a metric that also counts
// how far the face's identity moves; training/seedface/train/identity_metric.py), else its normal (Euclidean).
import { HttpError } from "./errors.js";
import type { Manifest } from "./manifest.js";

export const ATTRIBUTES_FORMAT = "seedface-attributes/1";

/** Option names in canonical order (cache key, ETag, URLs). */
export const ATTRIBUTE_OPTIONS = ["gender", "age", "age_min", "expression", "glasses"] as const;
export type AttributeOption = (typeof ATTRIBUTE_OPTIONS)[number];

/** Values the URL API knows; a model's attributes.json says which it can serve (glasses: none for ffhq). */
export const ATTRIBUTE_VALUES = {
  gender: ["female", "male"],
  age: ["child", "young", "adult", "senior"],
  expression: ["smile", "neutral"],
  glasses: ["yes", "no"],
} as const;
/** Bounds of age_min the URL API accepts before a model's table narrows them. */
export const AGE_MIN_SYNTAX = { min: 1, max: 120 } as const;

export interface AttributeOptions {
  gender?: "female" | "male";
  age?: "child" | "young" | "adult" | "senior";
  /** Lowest age in years (the adult preset is age_min=18). */
  age_min?: number;
  expression?: "smile" | "neutral";
  glasses?: "yes" | "no";
}

/** The "adult" preset, as documented: no child or teenage faces. */
export const ADULT_PRESET: AttributeOptions = { age_min: 18 };

export interface AttributeClass {
  lo: number | null;
  hi: number | null;
  /**
   * The seed's start counts too: the interval bounds p + weight * (p_seed - ref) instead of p, so a seed that
   * starts further from the class lands deeper (edited faces are judged by where they started as well as where
   * they land; docs/attributes.md). With `normal`, the start is measured along it (p_seed = normal . w, a
   * per-seed depth fitted on judged edits) instead of along the direction's own normal.
   */
  start?: { weight: number; ref: number; normal?: number[] };
  [figure: string]: unknown;
}
export interface AttributeDirection {
  name: string;
  /** The option this direction serves (default: its name); several may serve one, e.g. expression=neutral. */
  option?: string;
  normal: number[];
  /** Where the edit moves w for this direction (default: the normal); see the header comment. */
  move?: number[];
  classes: Record<string, AttributeClass>;
  /** Age only: age_min=N for N = from .. from + lo.length - 1 is p >= lo[N - from]. */
  age_min?: { from: number; lo: (number | null)[] };
  [figure: string]: unknown;
}
export interface AttributeData {
  format: string;
  style_dim: number;
  attributes: AttributeDirection[];
  /** Options the model cannot serve, with the reason (e.g. glasses). */
  unavailable?: Record<string, string>;
  [meta: string]: unknown;
}

/** The manifest's `attributes` section: which file holds the directions (and its sha256), plus figures. */
export interface AttributesEntry {
  format: string;
  file: string;
  sha256: string;
  [figure: string]: unknown;
}

/** A 400 whose JSON body also lists what is allowed: {"error": {code, message, allowed}}. */
export class AttributeHttpError extends HttpError {
  constructor(code: string, message: string, readonly allowed: Record<string, readonly string[] | string>) {
    super(400, code, message);
  }
  override body() {
    return { error: { code: this.code, message: this.message, allowed: this.allowed } };
  }
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
const bound = (v: unknown) => v === null || (typeof v === "number" && Number.isFinite(v));
const finiteVector = (v: unknown, n: number) =>
  Array.isArray(v) && v.length === n && v.every((x) => typeof x === "number" && Number.isFinite(x));

/** Validate an attributes.json document against the model's style_dim. */
export function parseAttributes(x: unknown, styleDim: number): AttributeData {
  const fail = (m: string): never => {
    throw new Error(`attributes.json: ${m}`);
  };
  if (!isObj(x)) fail("not an object");
  const d = x as Record<string, unknown>;
  if (d.format !== ATTRIBUTES_FORMAT) fail(`format must be ${ATTRIBUTES_FORMAT} (got ${JSON.stringify(d.format)})`);
  if (d.style_dim !== styleDim) fail(`style_dim ${String(d.style_dim)} is not the model's ${styleDim}`);
  if (!Array.isArray(d.attributes) || d.attributes.length === 0) fail("attributes must be a non-empty array");
  for (const a of d.attributes as unknown[]) {
    if (!isObj(a) || typeof a.name !== "string") fail("every attribute needs a name");
    const at = a as Record<string, unknown>;
    if (at.option !== undefined && typeof at.option !== "string") fail(`${String(at.name)}.option must be a string`);
    for (const field of ["normal", "move"] as const) {
      if (!finiteVector(field === "move" && at.move === undefined ? at.normal : at[field], styleDim)) {
        fail(`${String(at.name)}.${field} must be ${styleDim} finite numbers`);
      }
    }
    if (!isObj(at.classes)) fail(`${String(at.name)}.classes missing`);
    for (const [k, c] of Object.entries(at.classes as Record<string, unknown>)) {
      if (!isObj(c) || !bound(c.lo) || !bound(c.hi)) fail(`${String(at.name)}.classes.${k} needs lo and hi (numbers or null)`);
      const st = (c as Record<string, unknown>).start;
      if (st !== undefined && !(isObj(st) && [st.weight, st.ref].every((v) => typeof v === "number" && Number.isFinite(v)))) {
        fail(`${String(at.name)}.classes.${k}.start must be {weight, ref} (finite numbers)`);
      }
      if (isObj(st) && st.normal !== undefined && !finiteVector(st.normal, styleDim)) {
        fail(`${String(at.name)}.classes.${k}.start.normal must be ${styleDim} finite numbers`);
      }
    }
    if (at.age_min !== undefined) {
      const t = at.age_min as Record<string, unknown>;
      if (!isObj(t) || !Number.isInteger(t.from) || !Array.isArray(t.lo) || !t.lo.every(bound)) fail(`${String(at.name)}.age_min malformed`);
    }
  }
  return x as unknown as AttributeData;
}

// ---- the model's data, loaded next to its manifest -------------------------------------------------------------

const registry = new WeakMap<object, AttributeData>();

/** Attach a model's parsed attributes.json to its manifest object (every runtime does this when it loads the model). */
export function setModelAttributes(m: Manifest, data: AttributeData | null): void {
  if (data) registry.set(m, data);
  else registry.delete(m);
}

/** The attribute data loaded for this manifest, or null (model without directions, or a runtime that did not load them). */
export function modelAttributes(m: Manifest): AttributeData | null {
  return registry.get(m) ?? null;
}

/** The manifest's `attributes` section, or null. */
export function attributesEntry(m: Manifest): AttributesEntry | null {
  const e = (m as unknown as { attributes?: unknown }).attributes;
  return isObj(e) && typeof e.file === "string" && typeof e.sha256 === "string" ? (e as AttributesEntry) : null;
}

// ---- options ---------------------------------------------------------------------------------------------------

/** What a model accepts: {option: values}; age_min as "from..to". */
export function allowedOptions(data: AttributeData | null): Record<string, readonly string[] | string> {
  const res: Record<string, readonly string[] | string> = {};
  if (!data) return res;
  for (const a of data.attributes) {
    const prev = (res[optionOf(a)] ?? []) as readonly string[];
    res[optionOf(a)] = [...prev, ...Object.keys(a.classes).filter((v) => !prev.includes(v))];
    if (a.age_min) res.age_min = `${a.age_min.from}..${a.age_min.from + a.age_min.lo.length - 1}`;
  }
  return res;
}

function syntaxAllowed(): Record<string, readonly string[] | string> {
  return { ...ATTRIBUTE_VALUES, age_min: `${AGE_MIN_SYNTAX.min}..${AGE_MIN_SYNTAX.max}` };
}

/**
 * Attribute options of a query, validated against the values the URL API knows (not yet a model's data: see
 * checkAttributes). Absent and empty parameters count as not asked. Unknown values: 400 bad_attribute listing
 * what is allowed.
 */
export function parseAttributeOptions(query: URLSearchParams): AttributeOptions {
  const out: Record<string, string | number> = {};
  for (const name of ATTRIBUTE_OPTIONS) {
    const v = query.get(name);
    if (v === null || v === "") continue;
    if (name === "age_min") {
      const n = /^\d{1,3}$/.test(v) ? Number(v) : NaN;
      if (!(n >= AGE_MIN_SYNTAX.min && n <= AGE_MIN_SYNTAX.max)) {
        throw new AttributeHttpError("bad_attribute", `age_min must be a whole number of years, e.g. 18 (got ${JSON.stringify(v)})`, syntaxAllowed());
      }
      out[name] = n;
      continue;
    }
    const allowed = ATTRIBUTE_VALUES[name] as readonly string[];
    if (!allowed.includes(v)) {
      throw new AttributeHttpError("bad_attribute", `${name} must be one of ${allowed.join(", ")} (got ${JSON.stringify(v)})`, syntaxAllowed());
    }
    out[name] = v;
  }
  return out as AttributeOptions;
}

export function hasAttributes(o: AttributeOptions | undefined): o is AttributeOptions {
  return !!o && ATTRIBUTE_OPTIONS.some((k) => o[k] !== undefined);
}

/** Canonical query fragment, "" when nothing is asked: "gender=female&age_min=18" (ATTRIBUTE_OPTIONS order). */
export function attributeQuery(o: AttributeOptions | undefined): string {
  if (!o) return "";
  return ATTRIBUTE_OPTIONS.filter((k) => o[k] !== undefined).map((k) => `${k}=${o[k]}`).join("&");
}

/** The option a direction serves: its `option` field, else its name. */
function optionOf(a: AttributeDirection): string {
  return a.option ?? a.name;
}

/** Does the request constrain direction a (its option asked with a value it has a class for; age: also age_min)? */
function asks(a: AttributeDirection, o: AttributeOptions): boolean {
  const v = o[optionOf(a) as AttributeOption];
  return (v !== undefined && String(v) in a.classes) || (a.name === "age" && o.age_min !== undefined);
}

/** An age class's years [from, to) as the fit recorded them (null: open end), or null when the file has none. */
function classYears(c: AttributeClass | undefined): [number | null, number | null] | null {
  const y = c?.years;
  return Array.isArray(y) && y.length === 2 ? [(y[0] ?? null) as number | null, (y[1] ?? null) as number | null] : null;
}

/**
 * The [lo, hi] interval of p for attribute a under options o. age with age_min: a class whose years start at or
 * above N already implies age_min=N (adult and age_min=18: the class alone); otherwise the bound of the age_min
 * table raises lo, and where that passes the class's top (the margins of both are deep), the minimum age wins:
 * the face lands on the age_min bound.
 */
function interval(a: AttributeDirection, o: AttributeOptions): [number | null, number | null] {
  let lo: number | null = null, hi: number | null = null;
  const v = o[optionOf(a) as AttributeOption];
  if (v !== undefined && String(v) in a.classes) {
    const c = a.classes[String(v)]!;
    lo = c.lo;
    hi = c.hi;
  }
  if (a.name === "age" && o.age_min !== undefined && a.age_min) {
    const m = a.age_min.lo[o.age_min - a.age_min.from] ?? null;
    const years = v !== undefined ? classYears(a.classes[String(v)]) : null;
    const implied = years !== null && years[0] !== null && years[0] >= o.age_min;
    if (m !== null && !implied) {
      lo = lo === null ? m : Math.max(lo, m);
      if (hi !== null && lo > hi) hi = lo;
    }
  }
  return [lo, hi];
}

/** The asked class's start weight and reference (AttributeClass.start), if it has one. */
function startOf(a: AttributeDirection, o: AttributeOptions): AttributeClass["start"] {
  const v = o[optionOf(a) as AttributeOption];
  return v !== undefined ? a.classes[String(v)]?.start : undefined;
}

/**
 * Check canonical options against a model's data: 400 attribute_unavailable for an option the model has no
 * direction for (with the reason, e.g. glasses), or when the model has no directions at all; 400 bad_attribute for a
 * value outside its classes or age_min table, or age and age_min that exclude each other.
 */
export function checkAttributes(o: AttributeOptions | undefined, data: AttributeData | null, modelName: string): void {
  if (!hasAttributes(o)) return;
  const allow = allowedOptions(data);
  for (const name of ATTRIBUTE_OPTIONS) {
    const v = o[name];
    if (v === undefined) continue;
    if (!(name in allow)) {
      const why = data?.unavailable?.[name];
      throw new AttributeHttpError("attribute_unavailable", data
        ? `${name} is not available for model ${modelName}${why ? `: ${why}` : ""}`
        : `model ${modelName} has no attribute directions: gender, age, age_min, expression and glasses are not available for it`, allow);
    }
    if (name === "age_min") {
      const [from, to] = String(allow.age_min).split("..").map(Number) as [number, number];
      if ((v as number) < from || (v as number) > to) {
        throw new AttributeHttpError("bad_attribute", `age_min must be from ${from} to ${to} for model ${modelName} (got ${v})`, allow);
      }
    } else if (!(allow[name] as readonly string[]).includes(String(v))) {
      throw new AttributeHttpError("bad_attribute", `${name} must be one of ${(allow[name] as readonly string[]).join(", ")} for model ${modelName} (got ${JSON.stringify(v)})`, allow);
    }
  }
  if (o.age !== undefined && o.age_min !== undefined && data) {
    const years = classYears(data.attributes.find((x) => x.name === "age")!.classes[o.age]);
    if (years !== null && years[1] !== null && years[1] <= o.age_min) {
      throw new AttributeHttpError("bad_attribute", `age=${o.age} (under ${years[1]} years) and age_min=${o.age_min} exclude each other`, allow);
    }
  }
}

// ---- the edit --------------------------------------------------------------------------------------------------

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * G c = r by Gaussian elimination without pivoting, fixed order. G need not be symmetric (move vectors on only some
 * directions), only have non-zero pivots: the fit's G is near-diagonal (unit normals, |cos| <= 0.24).
 */
export function solveSmall(g: number[][], r: number[]): number[] {
  const K = r.length;
  const a = g.map((row, i) => [...row, r[i]!]);
  for (let j = 0; j < K; j++) {
    for (let i = j + 1; i < K; i++) {
      const f = a[i]![j]! / a[j]![j]!;
      for (let k = j; k <= K; k++) a[i]![k] = a[i]![k]! - f * a[j]![k]!;
    }
  }
  const c = new Array<number>(K).fill(0);
  for (let i = K - 1; i >= 0; i--) {
    let s = a[i]![K]!;
    for (let k = i + 1; k < K; k++) s = s - a[i]![k]! * c[k]!;
    c[i] = s / a[i]![i]!;
  }
  return c;
}

/** Projections p_k = n_k . w of every attribute (file order). */
export function attributeProjections(data: AttributeData, w: Float32Array): number[] {
  return data.attributes.map((a) => dot(a.normal, w));
}

/**
 * The edited truncated w for canonical options (checked with checkAttributes). Returns `w` itself when nothing is
 * asked or the seed already lies in every asked class.
 */
export function applyAttributes(data: AttributeData, w: Float32Array, o: AttributeOptions | undefined): Float32Array {
  if (!hasAttributes(o)) return w;
  const attrs = data.attributes;
  const p = attrs.map((a) => dot(a.normal, w));
  const r = attrs.map((a, k) => {
    if (!asks(a, o)) return 0;
    let [lo, hi] = interval(a, o);
    const st = startOf(a, o);
    if (st !== undefined) {
      const shift = st.weight * ((st.normal ? dot(st.normal, w) : p[k]!) - st.ref);
      if (lo !== null) lo = lo - shift;
      if (hi !== null) hi = hi - shift;
    }
    let t = p[k]!;
    if (lo !== null && t < lo) t = lo;
    if (hi !== null && t > hi) t = hi;
    return t - p[k]!;
  });
  if (r.every((x) => x === 0)) return w;
  const moves = attrs.map((a) => a.move ?? a.normal);
  const g = attrs.map((a) => moves.map((u) => dot(a.normal, u)));
  const c = solveSmall(g, r);
  const out = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) {
    let acc = 0;
    for (let k = 0; k < attrs.length; k++) acc += c[k]! * moves[k]![i]!;
    out[i] = w[i]! + acc;
  }
  return out;
}

/** applyAttributes with the model's registered data; 400 when options are asked of a model without directions. */
export function applyModelAttributes(m: Manifest, w: Float32Array, o: AttributeOptions | undefined): Float32Array {
  if (!hasAttributes(o)) return w;
  const data = modelAttributes(m);
  checkAttributes(o, data, `${m.id}@${m.version}`);
  return applyAttributes(data!, w, o);
}
