// Independent PNG decoding (pngjs) and image statistics for tests: never our own encoder.
import { PNG } from "pngjs";

export interface DecodedImage {
  width: number;
  height: number;
  /** RGBA, 8 bits per channel. */
  rgba: Uint8Array;
}

export function decodePng(bytes: Uint8Array): DecodedImage {
  const png = PNG.sync.read(Buffer.from(bytes));
  return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) };
}

/** Interleaved RGB (alpha dropped). */
export function rgbOf(img: DecodedImage): Uint8Array {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = img.rgba[i * 4 + c]!;
  return out;
}

/** PSNR in dB between two equally sized 8-bit buffers (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`size mismatch ${a.length} vs ${b.length}`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

export interface PixelStats {
  mean: number;
  std: number;
  distinct: number;
}

/** Statistics of the RGB channels: a blank or flat image has tiny std and few distinct values. */
export function pixelStats(img: DecodedImage): PixelStats {
  const rgb = rgbOf(img);
  let s = 0, s2 = 0;
  const seen = new Set<number>();
  for (let i = 0; i < rgb.length; i++) {
    s += rgb[i]!;
    s2 += rgb[i]! ** 2;
  }
  for (let i = 0; i < rgb.length; i += 3) seen.add((rgb[i]! << 16) | (rgb[i + 1]! << 8) | rgb[i + 2]!);
  const mean = s / rgb.length;
  return { mean, std: Math.sqrt(Math.max(0, s2 / rgb.length - mean * mean)), distinct: seen.size };
}

export function isNonBlank(img: DecodedImage): boolean {
  const st = pixelStats(img);
  return st.std > 2 && st.distinct > 16;
}

/** Any face format (PNG, WebP, JPEG, AVIF) decoded by sharp (libvips), independent of the codecs that encoded it. */
export async function decodeAny(bytes: Uint8Array): Promise<DecodedImage & { format: string }> {
  const { default: sharp } = await import("sharp");
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const meta = await sharp(bytes).metadata();
  return { width: info.width, height: info.height, rgba: new Uint8Array(data), format: meta.format === "heif" ? "avif" : String(meta.format) };
}
