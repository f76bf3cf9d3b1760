// URLs of the edge's face API, as the browser builds them (seeds encoded like the edge's canonical form).
import { encodeSeed } from "../shared/params.js";

export interface FaceUrlParams {
  size: number;
  psi?: number;
  model?: "student" | "teacher";
}

export function faceUrl(base: string, seed: string, p: FaceUrlParams): string {
  const q = new URLSearchParams({ size: String(p.size) });
  if (p.psi !== undefined) q.set("psi", p.psi.toFixed(2));
  if (p.model) q.set("model", p.model);
  return new URL(`face/${encodeSeed(seed)}.png?${q}`, base).href;
}

/** The morph API: /face/<seedA>~<seedB>.png?t=... (w interpolated linearly, noise on a circle). */
export function morphUrl(base: string, seedA: string, seedB: string, t: number, p: FaceUrlParams): string {
  const q = new URLSearchParams({ size: String(p.size), t: t.toFixed(2) });
  if (p.psi !== undefined) q.set("psi", p.psi.toFixed(2));
  if (p.model) q.set("model", p.model);
  return new URL(`face/${encodeSeed(seedA)}~${encodeSeed(seedB)}.png?${q}`, base).href;
}
