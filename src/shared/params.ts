// Parse and validate a face URL (path + query) into a canonical request; canonical form = cache key = ETag input.
// Paths (after an optional versioned prefix /v/<model>@<version>, see versioned.ts):
//   /face/<seed>[.png|.webp|.jpg|.jpeg|.avif]     the seed is everything between "/face/" and the extension,
//                                                 URL-decoded; "%2F" and "~" are ordinary seed characters
//   /morph/<seedA>/<seedB>[.<ext>]?t=0..1         a morph; the two seeds are the two raw path segments
//   /avatar/<md5 or sha256 hex>[.<ext>]           Gravatar drop-in: the lowercased hash is the seed
// Without a known extension the whole segment is the seed and the format comes from Accept (negotiated; the
// response then varies on Accept). An extension of a format we do not serve (.gif, .svg, ...) is a 400.
// Gravatar's query parameters are understood everywhere: s (size, clamped like Gravatar clamps), d/default (any
// value, accepted: there is always a face), r/rating (g|pg|r|x, validated), f/forcedefault (y|n, validated).
import type { Format } from "./formats.js";
import { CANONICAL_EXTENSION, CODEC_REVISION, EXTENSIONS, negotiateFormat } from "./formats.js";
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
export const MORPH_PREFIX = "/morph/";
export const AVATAR_PREFIX = "/avatar/";
/** Gravatar's default size, used by /avatar/ without s= or size=. */
export const GRAVATAR_DEFAULT_SIZE = 80;
export const RATINGS = ["g", "pg", "r", "x"] as const;

interface Common {
  size: number;
  /** Image format: from the extension, else negotiated from Accept (absent: PNG, e.g. in-browser renders). */
  format?: Format;
  /** True when the format came from Accept (no extension): the response varies on Accept. */
  negotiated?: boolean;
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
  /** The request's Accept header, for URLs without an extension. */
  accept?: string | null;
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

const UNSERVED_EXTENSIONS = new Set(["gif", "bmp", "tif", "tiff", "svg", "ico", "heic", "heif", "jxl", "jp2", "jfif", "apng"]);

function badExtension(ext: string): HttpError {
  return bad("bad_extension", `.${ext} is not served; faces are .png, .webp, .jpg (.jpeg) or .avif, or no extension for the best format your Accept header allows`);
}

/** Split "name.ext" into the raw name and the format its extension names (null: no known extension). */
export function splitExtension(raw: string): { name: string; format: Format | null } {
  const dot = raw.lastIndexOf(".");
  if (dot >= 0) {
    const ext = raw.slice(dot + 1).toLowerCase();
    const format = EXTENSIONS[ext];
    if (format) return { name: raw.slice(0, dot), format };
    if (UNSERVED_EXTENSIONS.has(ext)) throw badExtension(ext);
  }
  return { name: raw, format: null };
}

/** The seed (and format) from the raw (still percent-encoded) path after /face/, e.g. "alice%40x.png". */
export function parseSeedPath(rawTail: string): { seed: string; format: Format | null } {
  const { name, format } = splitExtension(rawTail);
  return { seed: decodeSeed(name, "seed"), format };
}

/** The two seeds of /morph/<a>/<b>[.ext]: two raw path segments ("%2F" inside a seed is part of it). */
export function parseMorphPath(rawTail: string): { seedA: string; seedB: string; format: Format | null } {
  const parts = rawTail.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw bad("bad_seed", "a morph URL is /morph/<seedA>/<seedB>.<ext>?t=0..1: exactly two seeds (send a '/' inside a seed as %2F)");
  }
  const { name, format } = splitExtension(parts[1]);
  return { seedA: decodeSeed(parts[0], "seedA"), seedB: decodeSeed(name, "seedB"), format };
}

const HASH = /^([0-9a-f]{32}|[0-9a-f]{64})$/i;

/** /avatar/<md5 or sha256 hex>[.ext]: the lowercased hash is the seed. */
export function parseAvatarPath(rawTail: string): { seed: string; format: Format | null } {
  const { name, format } = splitExtension(rawTail);
  if (!HASH.test(name)) {
    throw bad("bad_hash", "an avatar URL is /avatar/<hash>[.jpg|.png|.webp|.avif]: the hash is 32 (MD5) or 64 (SHA-256) hex digits of the trimmed, lowercased e-mail address");
  }
  return { seed: name.toLowerCase(), format };
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

/** Gravatar's s=: an integer, clamped into our size range as Gravatar clamps into its own (1..2048). */
export function parseGravatarSize(v: string, name = "s"): number {
  if (!INTEGER.test(v)) throw bad("bad_size", `${name} must be a whole number of pixels (got ${JSON.stringify(v)}); it is clamped to ${SIZE_MIN}..${SIZE_MAX}`);
  return Math.min(SIZE_MAX, Math.max(SIZE_MIN, Number(v)));
}

function checkGravatar(query: URLSearchParams): void {
  for (const name of ["r", "rating"]) {
    const v = query.get(name);
    if (v !== null && !(RATINGS as readonly string[]).includes(v.toLowerCase())) {
      throw bad("bad_rating", `${name} must be one of ${RATINGS.join(", ")} (Gravatar ratings; every face here is rated g) (got ${JSON.stringify(v)})`);
    }
  }
  for (const name of ["f", "forcedefault"]) {
    const v = query.get(name);
    if (v !== null && !["y", "n"].includes(v.toLowerCase())) {
      throw bad("bad_forcedefault", `${name} must be y or n (got ${JSON.stringify(v)})`);
    }
  }
  // d= / default=: any Gravatar value (404, mp, identicon, ..., a URL) is accepted: a seed always has a face.
}

interface ParseOptions extends ParamDefaults {
  /** /avatar/: size= clamps like s= (both are Gravatar's), and the default size is Gravatar's 80. */
  gravatar?: boolean;
}

function parseCommon(query: URLSearchParams, format: Format | null, o: ParseOptions): Common {
  checkGravatar(query);
  const sizeParam = query.get("size");
  const s = query.get("s");
  const fallback = o.gravatar ? GRAVATAR_DEFAULT_SIZE : (o.size ?? DEFAULT_SIZE);
  let size: number;
  if (sizeParam !== null) size = o.gravatar ? parseGravatarSize(sizeParam, "size") : parseSize(sizeParam, fallback);
  else if (s !== null) size = parseGravatarSize(s);
  else size = fallback;
  const common: Common = {
    size,
    format: format ?? negotiateFormat(o.accept),
    negotiated: format === null,
    psi: parsePsi(query.get("psi"), o.psi ?? DEFAULT_PSI),
    model: parseModel(query.get("model")),
  };
  const attributes = parseAttributeOptions(query);
  if (hasAttributes(attributes)) common.attributes = attributes;
  return common;
}

/** Validate a face request. rawTail is the raw path after "/face/"; unknown query parameters are ignored. */
export function parseFaceRequest(rawTail: string, query: URLSearchParams, defaults: ParamDefaults = {}): FaceParams {
  const { seed, format } = parseSeedPath(rawTail);
  return { kind: "face", seed, ...parseCommon(query, format, defaults) };
}

/** Validate a morph request. rawTail is the raw path after "/morph/". */
export function parseMorphRequest(rawTail: string, query: URLSearchParams, defaults: ParamDefaults = {}): MorphParams {
  const { seedA, seedB, format } = parseMorphPath(rawTail);
  return { kind: "morph", seedA, seedB, t: parseT(query.get("t")), ...parseCommon(query, format, defaults) };
}

/** Validate a Gravatar-style request. rawTail is the raw path after "/avatar/". It is the face of the hash. */
export function parseAvatarRequest(rawTail: string, query: URLSearchParams, defaults: ParamDefaults = {}): FaceParams {
  const { seed, format } = parseAvatarPath(rawTail);
  return { kind: "face", seed, ...parseCommon(query, format, { ...defaults, gravatar: true }) };
}

/** Any face path ("/face/...", "/morph/...", "/avatar/..."), or null when the path is none of them. */
export function parseFacePath(path: string, query: URLSearchParams, defaults: ParamDefaults = {}): FaceRequest | null {
  if (path.startsWith(FACE_PREFIX)) return parseFaceRequest(path.slice(FACE_PREFIX.length), query, defaults);
  if (path.startsWith(MORPH_PREFIX)) return parseMorphRequest(path.slice(MORPH_PREFIX.length), query, defaults);
  if (path.startsWith(AVATAR_PREFIX)) return parseAvatarRequest(path.slice(AVATAR_PREFIX.length), query, defaults);
  return null;
}

/**
 * Percent-encode a seed for a canonical path: encodeURIComponent, plus "~" as %7E (an ordinary seed character now;
 * encoded so that origins of the older contract, where "~" split morphs, read the same seed).
 */
export function encodeSeed(seed: string): string {
  return encodeURIComponent(seed).replace(/~/g, "%7E");
}

/**
 * Canonical path + query of a request, without model version: "/face/a.webp?size=128&psi=0.70&model=student" or
 * "/morph/a/b.png?size=..&psi=..&model=..&t=0.50", then the attribute options when asked ("&gender=female&age_min=18",
 * canonical order). An /avatar/ request is the /face/ of its hash.
 */
export function canonicalPath(req: FaceRequest, format: Format = req.format ?? "png"): string {
  const q = `size=${req.size}&psi=${req.psi.toFixed(2)}&model=${req.model}`;
  const ext = CANONICAL_EXTENSION[format];
  const attrs = attributeQuery(req.attributes);
  const a = attrs ? `&${attrs}` : "";
  if (req.kind === "morph") {
    return `${MORPH_PREFIX}${encodeSeed(req.seedA)}/${encodeSeed(req.seedB)}.${ext}?${q}&t=${req.t.toFixed(2)}${a}`;
  }
  return `${FACE_PREFIX}${encodeSeed(req.seed)}.${ext}?${q}${a}`;
}

/** Cache key: canonical path plus the model identity (id@version) so a new model never serves old faces. */
export function canonicalKey(req: FaceRequest, modelId: string, modelVersion: string): string {
  return `${canonicalPath(req)}&v=${encodeURIComponent(modelId)}@${encodeURIComponent(modelVersion)}&codec=${CODEC_REVISION}`;
}
