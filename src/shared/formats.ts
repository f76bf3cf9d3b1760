// Face image formats: names, content types, URL extensions and Accept negotiation. No codec code here (the
// browser bundle uses this file); the encoders are in codecs.ts.
export type Format = "png" | "webp" | "jpeg" | "avif";
export const FORMATS: readonly Format[] = ["png", "webp", "jpeg", "avif"];

export const CONTENT_TYPES: Record<Format, string> = {
  png: "image/png",
  webp: "image/webp",
  jpeg: "image/jpeg",
  avif: "image/avif",
};

/** URL extension -> format (".jpg" and ".jpeg" are both JPEG; the canonical extension is the first listed). */
export const EXTENSIONS: Record<string, Format> = { png: "png", webp: "webp", jpg: "jpeg", jpeg: "jpeg", avif: "avif" };
export const CANONICAL_EXTENSION: Record<Format, string> = { png: "png", webp: "webp", jpeg: "jpg", avif: "avif" };

/** Part of every cache key and ETag: a change of codec build or setting must never serve old bytes under a URL. */
export const CODEC_REVISION = "c1";

/**
 * The format for a URL without an extension, from its Accept header: the first of webp, avif, png, jpeg that the
 * header names with q > 0; PNG when it names none of them (e-mail clients, curl, "*\/*" and "image/*": wildcards do
 * not opt in to a lossy format). WebP before AVIF by measurement (docs/benchmarks.md, "Formats"): at avatar sizes
 * AVIF saves 15-30 % of a ~2-5 KB file but takes 4-6x the encode time in WASM, and every browser that sends
 * image/avif also sends image/webp. An explicit .avif URL still gets AVIF.
 */
export function negotiateFormat(accept: string | null | undefined): Format {
  const types = parseAccept(accept ?? "");
  for (const f of ["webp", "avif", "png", "jpeg"] as const) if ((types.get(CONTENT_TYPES[f]) ?? 0) > 0) return f;
  return "png";
}

function parseAccept(accept: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    if (!type) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.trim().split("=");
      if (k === "q" && v !== undefined) {
        const x = Number(v);
        q = Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
      }
    }
    m.set(type.trim(), q);
  }
  return m;
}
