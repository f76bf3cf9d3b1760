// URLs of the edge's face API, as the browser builds them (seeds encoded like the edge's canonical form).
import type { AttributeOptions } from "../shared/attributes.js";
import { ATTRIBUTE_OPTIONS } from "../shared/attributes.js";
import { encodeSeed } from "../shared/params.js";

export interface FaceUrlParams {
  size: number;
  psi?: number;
  model?: "student" | "teacher";
  attributes?: AttributeOptions;
}

function setAttributes(q: URLSearchParams, a: AttributeOptions | undefined): void {
  for (const k of ATTRIBUTE_OPTIONS) if (a?.[k] !== undefined) q.set(k, String(a[k]));
}

export function faceUrl(base: string, seed: string, p: FaceUrlParams): string {
  const q = new URLSearchParams({ size: String(p.size) });
  if (p.psi !== undefined) q.set("psi", p.psi.toFixed(2));
  if (p.model) q.set("model", p.model);
  setAttributes(q, p.attributes);
  return new URL(`face/${encodeSeed(seed)}.png?${q}`, base).href;
}

/** The morph API: /face/<seedA>~<seedB>.png?t=... (w interpolated linearly, noise on a circle). */
export function morphUrl(base: string, seedA: string, seedB: string, t: number, p: FaceUrlParams): string {
  const q = new URLSearchParams({ size: String(p.size), t: t.toFixed(2) });
  if (p.psi !== undefined) q.set("psi", p.psi.toFixed(2));
  if (p.model) q.set("model", p.model);
  setAttributes(q, p.attributes);
  return new URL(`face/${encodeSeed(seedA)}~${encodeSeed(seedB)}.png?${q}`, base).href;
}
