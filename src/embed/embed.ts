// /embed.js: defines <seed-face> and exports small helpers. Load it with
// <script type="module" src="https://<edge>/embed.js"></script>, or import { hashEmail, faceUrl } from it.
import { SERVED_MODEL, faceUrl as buildFaceUrl, morphUrl as buildMorphUrl } from "./face-url.js";
import type { FaceUrlParams } from "./face-url.js";
import { hashEmail, normalizeEmail } from "./hash.js";
import { SeedFace } from "./seed-face.js";

SeedFace.base = new URL("./", import.meta.url).href;
if (!customElements.get("seed-face")) customElements.define("seed-face", SeedFace);

export type FaceUrlOptions = Partial<FaceUrlParams>;

/** The versioned URL of a seed's face on this edge (size default 128, format default webp). */
export function faceUrl(seed: string, opts: FaceUrlOptions = {}): string {
  return buildFaceUrl(SeedFace.base, seed, { size: 128, version: SERVED_MODEL, ...opts });
}

/** The versioned URL of a morph between two seeds at t in [0, 1]. */
export function morphUrl(seedA: string, seedB: string, t: number, opts: FaceUrlOptions = {}): string {
  return buildMorphUrl(SeedFace.base, seedA, seedB, t, { size: 128, version: SERVED_MODEL, ...opts });
}

/** The face URL of an e-mail address: normalised and SHA-256-hashed here, so the address never leaves the page. */
export async function emailFaceUrl(email: string, opts: FaceUrlOptions = {}): Promise<string> {
  return faceUrl(await hashEmail(email), opts);
}

export { SeedFace, SERVED_MODEL, hashEmail, normalizeEmail };
