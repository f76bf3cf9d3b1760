// Parse and validate a face URL (path + query) into a canonical request; canonical form = cache key = ETag input.
// Path: /face/<seed>.png or /face/<seedA>~<seedB>.png (morph). The seed is everything between "/face/" and the
// final ".png", URL-decoded; %2F is part of the seed. Morph splits on the single *unencoded* "~" of the raw path,
// so a literal "~" inside a seed must be sent as %7E.
import type { AttributeOptions } from "./attributes.js";
import { attributeQuery, hasAttributes, parseAttributeOptions } from "./attributes.js";
import { HttpError } from "./errors.js";

export type Network = "student" | "teacher";
export const NETWORKS: readonly Network[] = ["student", "teacher"];

export const SIZE_MIN = 16;
export const SIZE_MAX = 1024;
export const DEFAULT_SIZE = 128;
export const DEFAULT_PSI = 0.7;
export const DEFAULT_T = 0.5;
export const SEED_MAX_BYTES = 256;
export const FACE_PREFIX = "/face/";

interface Common {
  size: number;
  /** Truncation, rounded to 2 decimals. */
  psi: number;
  model: Network;
  /** Attribute options (gender, age, age_min, expression, glasses; src/shared/attributes.ts), absent when none. */
  attributes?: AttributeOptions;
}
export interface FaceParams extends Common {
  kind: "face";
  seed: string;
}
export interface MorphParams extends Common {
  kind: "morph";
  seedA: string;
  seedB: string;
  /** Morph position in [0, 1], rounded to 2 decimals. */
  t: number;
}
export type FaceRequest = FaceParams | MorphParams;

export interface ParamDefaults {
  size?: number;
  psi?: number;
}

const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;
const INTEGER = /^\d+$/;
const utf8 = new TextEncoder();

function bad(code: string, message: string): HttpError {
  return new HttpError(400, code, message);
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function decodeSeed(raw: string, which: string): string {
  let seed: string;
  try {
    seed = decodeURIComponent(raw);
  } catch {
    throw bad("bad_seed", `${which} is not valid percent-encoded UTF-8`);
  }
  const n = utf8.encode(seed).length;
  if (n < 1 || n > SEED_MAX_BYTES) {
    throw bad("bad_seed", `${which} must be 1 to ${SEED_MAX_BYTES} UTF-8 bytes after URL-decoding (got ${n})`);
  }
  return seed;
}

/** Seeds from the raw (still percent-encoded) path segment after /face/, e.g. "alice%40x.png" or "a~b.png". */
export function parseSeedPath(rawTail: string): string[] {
  if (!rawTail.endsWith(".png")) {
    throw bad("bad_extension", "face URLs end in .png: /face/<seed>.png (only PNG is served)");
  }
  const body = rawTail.slice(0, -".png".length);
  const parts = body.split("~");
  if (parts.length > 2) {
    throw bad("bad_seed", "a morph URL has exactly one unencoded '~' (/face/<seedA>~<seedB>.png); send a literal '~' inside a seed as %7E");
  }
  if (parts.length === 2) return [decodeSeed(parts[0]!, "seedA"), decodeSeed(parts[1]!, "seedB")];
  return [decodeSeed(body, "seed")];
}

export function parseSize(v: string | null | undefined, fallback = DEFAULT_SIZE): number {
  if (v === null || v === undefined) return fallback;
  const n = INTEGER.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < SIZE_MIN || n > SIZE_MAX) {
    throw bad("bad_size", `size must be an integer from ${SIZE_MIN} to ${SIZE_MAX} (got ${JSON.stringify(v)})`);
  }
  return n;
}

function parseUnit(name: string, code: string, v: string | null | undefined, fallback: number): number {
  if (v === null || v === undefined) return round2(fallback);
  const x = DECIMAL.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(x) || x < 0 || x > 1) {
    throw bad(code, `${name} must be a decimal number from 0 to 1, e.g. 0.7 (got ${JSON.stringify(v)})`);
  }
  return round2(x);
}

export function parsePsi(v: string | null | undefined, fallback = DEFAULT_PSI): number {
  return parseUnit("psi", "bad_psi", v, fallback);
}

export function parseT(v: string | null | undefined): number {
  return parseUnit("t", "bad_t", v, DEFAULT_T);
}

export function parseModel(v: string | null | undefined): Network {
  if (v === null || v === undefined) return "student";
  if ((NETWORKS as readonly string[]).includes(v)) return v as Network;
  throw bad("bad_model", `model must be one of ${NETWORKS.join(", ")} (got ${JSON.stringify(v)})`);
}

/** Validate a face request. rawTail is the raw path after "/face/"; unknown query parameters are ignored. */
export function parseFaceRequest(rawTail: string, query: URLSearchParams, defaults: ParamDefaults = {}): FaceRequest {
  const seeds = parseSeedPath(rawTail);
  const common: Common = {
    size: parseSize(query.get("size"), defaults.size ?? DEFAULT_SIZE),
    psi: parsePsi(query.get("psi"), defaults.psi ?? DEFAULT_PSI),
    model: parseModel(query.get("model")),
  };
  const attributes = parseAttributeOptions(query);
  if (hasAttributes(attributes)) common.attributes = attributes;
  if (seeds.length === 2) {
    return { kind: "morph", seedA: seeds[0]!, seedB: seeds[1]!, t: parseT(query.get("t")), ...common };
  }
  return { kind: "face", seed: seeds[0]!, ...common };
}

/** Percent-encode a seed for a canonical path: encodeURIComponent plus "~" (reserved here as the morph separator). */
export function encodeSeed(seed: string): string {
  return encodeURIComponent(seed).replace(/~/g, "%7E");
}

/**
 * Canonical path + query of a request, without model version: "/face/a.png?size=128&psi=0.70&model=student", then
 * the attribute options when asked ("&gender=female&age_min=18", canonical order).
 */
export function canonicalPath(req: FaceRequest): string {
  const q = `size=${req.size}&psi=${req.psi.toFixed(2)}&model=${req.model}`;
  const attrs = attributeQuery(req.attributes);
  const a = attrs ? `&${attrs}` : "";
  if (req.kind === "morph") {
    return `${FACE_PREFIX}${encodeSeed(req.seedA)}~${encodeSeed(req.seedB)}.png?${q}&t=${req.t.toFixed(2)}${a}`;
  }
  return `${FACE_PREFIX}${encodeSeed(req.seed)}.png?${q}${a}`;
}

/** Cache key: canonical path plus the model identity (id@version) so a new model never serves old faces. */
export function canonicalKey(req: FaceRequest, modelId: string, modelVersion: string): string {
  return `${canonicalPath(req)}&v=${encodeURIComponent(modelId)}@${encodeURIComponent(modelVersion)}`;
}
