// URLs of the edge's face API, as the browser builds them: versioned (/v/<model>@<version>/...) when the model is
// known, so they may be cached immutably; seeds encoded like the edge's canonical form.
import type { AttributeOptions } from "../shared/attributes.js";
import { ATTRIBUTE_OPTIONS } from "../shared/attributes.js";
import { encodeSeed, round2 } from "../shared/params.js";

export type UrlFormat = "png" | "webp" | "jpg" | "avif";

export interface FaceUrlParams {
  size: number;
  psi?: number;
  model?: "student" | "teacher";
  /** Image format (extension); default webp. */
  format?: UrlFormat;
  /** "<model>@<version>" for a versioned URL; null or absent: the unversioned URL (short cache, revalidated). */
  version?: string | null;
  attributes?: AttributeOptions;
}

/** The model the edge serves, baked in at build time (scripts/build-embed.ts), e.g. "ffhq@1.0.0"; null if none. */
declare const __SEEDFACE_MODEL__: string | null;
export const SERVED_MODEL: string | null = typeof __SEEDFACE_MODEL__ === "undefined" ? null : __SEEDFACE_MODEL__;

function prefix(p: FaceUrlParams): string {
  if (!p.version) return "";
  const at = p.version.lastIndexOf("@");
  return `v/${encodeURIComponent(p.version.slice(0, at))}@${encodeURIComponent(p.version.slice(at + 1))}/`;
}

function query(p: FaceUrlParams, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ size: String(p.size), ...extra });
  if (p.psi !== undefined) q.set("psi", round2(p.psi).toFixed(2));
  if (p.model) q.set("model", p.model);
  for (const k of ATTRIBUTE_OPTIONS) if (p.attributes?.[k] !== undefined) q.set(k, String(p.attributes[k]));
  return q.toString();
}

export function faceUrl(base: string, seed: string, p: FaceUrlParams): string {
  return new URL(`${prefix(p)}face/${encodeSeed(seed)}.${p.format ?? "webp"}?${query(p)}`, base).href;
}

/** The morph API: /morph/<seedA>/<seedB>.<ext>?t=... (w interpolated linearly, noise on a circle). */
export function morphUrl(base: string, seedA: string, seedB: string, t: number, p: FaceUrlParams): string {
  return new URL(`${prefix(p)}morph/${encodeSeed(seedA)}/${encodeSeed(seedB)}.${p.format ?? "webp"}?${query(p, { t: t.toFixed(2) })}`, base).href;
}
