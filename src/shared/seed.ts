// seedface-seed/1: seed string -> latent z and noise maps, bit-exact across runtimes (see docs/determinism.md).
// Only SHA-256, 32-bit integer arithmetic and float64 + - * / sqrt are used, so every runtime agrees bit for bit.

export const SEED_ALGORITHM = "seedface-seed/1";
const DOMAIN = "seedface/v1:";

export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** Philox key and the two counter words that come from the seed digest. */
export interface SeedKey {
  key: [number, number];
  ctrHi: [number, number];
}

const utf8 = new TextEncoder();

export function seedBytes(seed: string): Uint8Array {
  return utf8.encode(seed);
}

export async function seedKey(seed: string): Promise<SeedKey> {
  const s = seedBytes(seed);
  const msg = new Uint8Array(DOMAIN.length + s.length);
  msg.set(utf8.encode(DOMAIN), 0);
  msg.set(s, DOMAIN.length);
  const digest = new DataView(await crypto.subtle.digest("SHA-256", msg));
  const h = (i: number) => digest.getUint32(4 * i, true);
  return { key: [h(0), h(1)], ctrHi: [h(2), h(3)] };
}

/** 32x32 -> 64-bit product as [hi, lo] uint32, using 16-bit limbs (exact in float64). */
function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const aH = a >>> 16, aL = a & 0xffff, bH = b >>> 16, bL = b & 0xffff;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  const hi = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
  return [hi, lo];
}

/** Philox4x32-10 block function. */
export function philox4x32_10(ctr: readonly number[], key: readonly number[]): [number, number, number, number] {
  let c0 = ctr[0]! >>> 0, c1 = ctr[1]! >>> 0, c2 = ctr[2]! >>> 0, c3 = ctr[3]! >>> 0;
  let k0 = key[0]! >>> 0, k1 = key[1]! >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    const [hi0, lo0] = mulhilo(PHILOX_M0, c0);
    const [hi1, lo1] = mulhilo(PHILOX_M1, c2);
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

/** First n uint32 words of stream s. */
export function streamWords(k: SeedKey, stream: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  const blocks = Math.ceil(n / 4);
  for (let b = 0; b < blocks; b++) {
    const w = philox4x32_10([b, stream >>> 0, k.ctrHi[0], k.ctrHi[1]], k.key);
    for (let j = 0; j < 4 && 4 * b + j < n; j++) out[4 * b + j] = w[j]!;
  }
  return out;
}

const LN2 = 0.6931471805599453;
const SQRT2 = 1.4142135623730951;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Float64Array shares the platform's byte order; all supported runtimes are little-endian, but detect it anyway.
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Natural log by the spec's exact recipe (no libm). v must be a positive normal float64. */
export function specLn(v: number): number {
  f64[0] = v;
  const hiWord = u32[HI]!;
  let e = ((hiWord >>> 20) & 0x7ff) - 1023;
  u32[HI] = (hiWord & 0x800fffff) | (1023 << 20);
  let m = f64[0]!;
  if (m > SQRT2) {
    m = m / 2;
    e = e + 1;
  }
  const s = (m - 1) / (m + 1);
  const t = s * s;
  let p = 1 / 23;
  for (let k = 10; k >= 0; k--) p = 1 / (2 * k + 1) + t * p;
  return e * LN2 + 2 * s * p;
}

const A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const P_LOW = 0.02425;
const P_HIGH = 1 - 0.02425;

/** Acklam's inverse normal CDF in the spec's evaluation order. */
export function acklam(u: number): number {
  const [a0, a1, a2, a3, a4, a5] = A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = D as [number, number, number, number];
  if (u < P_LOW) {
    const q = Math.sqrt(-2 * specLn(u));
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  if (u <= P_HIGH) {
    const q = u - 0.5;
    const r = q * q;
    return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
  }
  const q = Math.sqrt(-2 * specLn(1 - u));
  return -((((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1));
}

const TWO_M32 = 2 ** -32;

export function wordToUniform(x: number): number {
  return (x + 0.5) * TWO_M32;
}

/** n float32 standard normals of stream s. */
export function streamNormals(k: SeedKey, stream: number, n: number): Float32Array {
  const words = streamWords(k, stream, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = acklam(wordToUniform(words[i]!));
  return out;
}

/** Latent z (stream 0), style_dim float32 values. */
export async function latentFromSeed(seed: string, styleDim: number): Promise<Float32Array> {
  return streamNormals(await seedKey(seed), 0, styleDim);
}

/** Noise map noise_k (stream 1 + k), size*size float32 values, row-major. */
export async function noiseFromSeed(seed: string, k: number, size: number): Promise<Float32Array> {
  return streamNormals(await seedKey(seed), 1 + k, size * size);
}

/** All noise maps at once for the given sizes (noise_0, noise_1, ...), sharing one hash. */
export async function noisesFromSeed(seed: string, sizes: readonly number[]): Promise<Float32Array[]> {
  const k = await seedKey(seed);
  return sizes.map((s, i) => streamNormals(k, 1 + i, s * s));
}
