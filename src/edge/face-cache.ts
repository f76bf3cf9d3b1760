// Two cache tiers for rendered faces, keyed by the canonical key (model id@version + canonical params):
// the Workers Cache API (per data centre), then the optional R2 bucket FACES (persistent). Only immutable
// (non-degraded) faces go to R2; the Cache API honours each response's own Cache-Control.
import { HEADER_MODEL, HEADER_UPSCALED } from "../shared/contract.js";
import type { Format } from "../shared/formats.js";
import { CANONICAL_EXTENSION, CONTENT_TYPES } from "../shared/formats.js";
import { CACHE_IMMUTABLE } from "../shared/http.js";

export const CACHE_HOST = "https://seedface-cache.internal";

export interface CachedFace {
  bytes: Uint8Array;
  etag: string;
  model: string;
  tier: "cache" | "r2";
  degraded?: string;
  upscaled?: string;
}

function cacheRequest(key: string): Request {
  return new Request(CACHE_HOST + key);
}

async function r2Key(key: string, format: Format): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  return `faces/${Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("")}.${CANONICAL_EXTENSION[format]}`;
}

function cacheStore(): Cache | undefined {
  return typeof caches === "undefined" ? undefined : (caches as unknown as { default: Cache }).default;
}

export async function getCachedFace(key: string, format: Format, r2?: R2Bucket): Promise<CachedFace | null> {
  const store = cacheStore();
  const hit = await store?.match(cacheRequest(key));
  if (hit) {
    return {
      bytes: new Uint8Array(await hit.arrayBuffer()),
      etag: hit.headers.get("etag") ?? "",
      model: hit.headers.get(HEADER_MODEL) ?? "",
      tier: "cache",
      degraded: hit.headers.get("x-face-degraded") ?? undefined,
      upscaled: hit.headers.get(HEADER_UPSCALED) ?? undefined,
    };
  }
  if (!r2) return null;
  let obj: R2ObjectBody | null;
  let bytes: Uint8Array;
  try {
    obj = await r2.get(await r2Key(key, format));
    if (!obj) return null;
    bytes = new Uint8Array(await obj.arrayBuffer());
  } catch (e) {
    // R2 is a second tier: when it fails, the face is drawn again rather than the request failing.
    console.warn(`R2 get failed, treating as a miss: ${e}`);
    return null;
  }
  const meta = obj.customMetadata ?? {};
  const face: CachedFace = { bytes, etag: meta.etag ?? "", model: meta.model ?? "", tier: "r2", ...(meta.upscaled ? { upscaled: meta.upscaled } : {}) };
  await putCacheApi(key, format, face);
  return face;
}

async function putCacheApi(key: string, format: Format, face: Omit<CachedFace, "tier">, cacheControl = CACHE_IMMUTABLE): Promise<void> {
  const store = cacheStore();
  if (!store) return;
  const headers: Record<string, string> = {
    "content-type": CONTENT_TYPES[format],
    "cache-control": cacheControl,
    etag: face.etag,
    [HEADER_MODEL]: face.model,
  };
  if (face.degraded) headers["x-face-degraded"] = face.degraded;
  if (face.upscaled) headers[HEADER_UPSCALED] = face.upscaled;
  await store.put(cacheRequest(key), new Response(face.bytes as Uint8Array<ArrayBuffer>, { headers }));
}

/** Store a rendered face in both tiers (degraded ones briefly in the Cache API only). */
export async function putCachedFace(key: string, format: Format, face: Omit<CachedFace, "tier">, cacheControl: string, r2?: R2Bucket): Promise<void> {
  await putCacheApi(key, format, face, cacheControl);
  if (r2 && !face.degraded) {
    await r2.put(await r2Key(key, format), face.bytes, {
      httpMetadata: { contentType: CONTENT_TYPES[format], cacheControl: CACHE_IMMUTABLE },
      customMetadata: { etag: face.etag, model: face.model, ...(face.upscaled ? { upscaled: face.upscaled } : {}) },
    });
  }
}
