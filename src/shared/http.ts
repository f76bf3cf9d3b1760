// Response header helpers shared by edge and origin: ETag, If-None-Match, Cache-Control policy, Server-Timing.
import { HEADER_DEGRADED, HEADER_MODEL, HEADER_SOURCE, HEADER_UPSCALED } from "./contract.js";
import type { FaceSource } from "./contract.js";

import type { Format } from "./formats.js";
import { CONTENT_TYPES } from "./formats.js";

/** Only versioned URLs (/v/<model>@<version>/...) are immutable: their bytes can never change. */
export const CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
/**
 * Unversioned URLs (/face/..., /morph/..., /avatar/...) name "the default model's face", which changes when the
 * default model does: a short max-age, then revalidation (the ETag holds the model id@version, so an unchanged
 * face revalidates with a 304), served stale for up to an hour while revalidating.
 */
export const CACHE_UNVERSIONED = "public, max-age=300, stale-while-revalidate=3600";
/** Degraded renders are correct-looking but not the canonical bytes: keep them briefly, never immutable. */
export const CACHE_DEGRADED = "public, max-age=60";
export const CACHE_NONE = "no-store";

async function sha256Hex(s: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Strong ETag of a face: hash of the canonical key (which holds the model id@version and params) and the
 * renderer variant (e.g. "edge-int8", "origin-fp32", "degraded-64"), since different renderers give different bytes.
 */
export async function faceEtag(canonicalKey: string, variant: string): Promise<string> {
  return `"${(await sha256Hex(`${canonicalKey}|${variant}`)).slice(0, 32)}"`;
}

/** If-None-Match matching with the weak comparison RFC 9110 prescribes for it. */
export function etagMatches(ifNoneMatch: string | null | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, "");
  const want = strip(etag);
  return ifNoneMatch.split(",").some((t) => t.trim() === "*" || strip(t) === want);
}

export interface TimingEntry {
  name: string;
  dur: number;
  desc?: string;
}

export function serverTiming(entries: TimingEntry[]): string {
  return entries
    .map((e) => `${e.name};dur=${e.dur.toFixed(1)}${e.desc ? `;desc="${e.desc.replace(/"/g, "")}"` : ""}`)
    .join(", ");
}

export interface ImageHeaderInfo {
  /** Image format (default PNG). */
  format?: Format;
  /** Cache-Control of a good face (default immutable); degraded faces always get CACHE_DEGRADED. */
  cacheControl?: string;
  /** The format came from Accept: add Vary: Accept. */
  negotiated?: boolean;
  /** The versioned URL of the same face (Link rel=canonical), for unversioned requests. */
  canonical?: string;
  etag: string;
  model: string;
  source: FaceSource;
  degraded?: string;
  /** Why a smaller level was upscaled to this size (X-Face-Upscaled). */
  upscaled?: string;
  timing?: TimingEntry[];
}

export function imageHeaders(info: ImageHeaderInfo): Headers {
  const h = new Headers({
    "content-type": CONTENT_TYPES[info.format ?? "png"],
    "cache-control": info.degraded ? CACHE_DEGRADED : (info.cacheControl ?? CACHE_IMMUTABLE),
    etag: info.etag,
    "access-control-allow-origin": "*",
    "access-control-expose-headers": "ETag, Link, Server-Timing, X-Face-Model, X-Face-Source, X-Face-Degraded, X-Face-Upscaled",
    "timing-allow-origin": "*",
    // Faces are meant to be embedded anywhere, including cross-origin-isolated pages (COEP: require-corp).
    "cross-origin-resource-policy": "cross-origin",
    "x-content-type-options": "nosniff",
    [HEADER_MODEL]: info.model,
    [HEADER_SOURCE]: info.source,
  });
  if (info.degraded) h.set(HEADER_DEGRADED, info.degraded);
  if (info.upscaled) h.set(HEADER_UPSCALED, info.upscaled);
  if (info.negotiated) h.set("vary", "Accept");
  if (info.canonical) h.set("link", `<${info.canonical}>; rel="canonical"`);
  if (info.timing?.length) h.set("server-timing", serverTiming(info.timing));
  return h;
}
