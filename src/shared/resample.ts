// Resampling of planar (CHW) float images to an exact size: area (box-coverage) filter when shrinking,
// bicubic (Catmull-Rom, a = -0.5, edge-clamped) when enlarging. Separable, deterministic float64 arithmetic.

export interface PlanarImage {
  /** CHW, row-major per channel. */
  data: Float32Array;
  channels: number;
  width: number;
  height: number;
}

interface Tap {
  start: number;
  weights: Float64Array;
}

/** Per output index: contiguous input taps and weights (summing to 1). */
export function resampleTaps(inN: number, outN: number): Tap[] {
  const taps: Tap[] = [];
  if (outN <= inN) {
    const scale = inN / outN;
    for (let o = 0; o < outN; o++) {
      const lo = o * scale, hi = (o + 1) * scale;
      const start = Math.floor(lo), end = Math.min(inN, Math.ceil(hi));
      const w = new Float64Array(end - start);
      for (let i = start; i < end; i++) w[i - start] = (Math.min(hi, i + 1) - Math.max(lo, i)) / scale;
      taps.push({ start, weights: w });
    }
    return taps;
  }
  const scale = outN / inN;
  for (let o = 0; o < outN; o++) {
    const src = (o + 0.5) / scale - 0.5;
    const base = Math.floor(src) - 1;
    const f = src - Math.floor(src);
    const w = new Float64Array(4);
    for (let k = 0; k < 4; k++) w[k] = cubic(k - 1 - f);
    // Fold taps outside the image onto the edge pixels.
    const folded = new Float64Array(inN);
    let first = inN, last = -1;
    for (let k = 0; k < 4; k++) {
      const i = Math.min(inN - 1, Math.max(0, base + k));
      folded[i] = folded[i]! + w[k]!;
      first = Math.min(first, i);
      last = Math.max(last, i);
    }
    taps.push({ start: first, weights: folded.slice(first, last + 1) });
  }
  return taps;
}

function cubic(x: number): number {
  const a = -0.5, t = Math.abs(x);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

/** Resize to exactly width x height. Returns the input unchanged when sizes already match. */
export function resample(img: PlanarImage, width: number, height: number): PlanarImage {
  if (img.width === width && img.height === height) return img;
  const tx = resampleTaps(img.width, width), ty = resampleTaps(img.height, height);
  const out = new Float32Array(img.channels * width * height);
  const row = new Float64Array(width * img.height);
  for (let c = 0; c < img.channels; c++) {
    const src = c * img.width * img.height;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < width; x++) {
        const { start, weights } = tx[x]!;
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k]! * img.data[src + y * img.width + start + k]!;
        row[y * width + x] = s;
      }
    }
    const dst = c * width * height;
    for (let y = 0; y < height; y++) {
      const { start, weights } = ty[y]!;
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = 0; k < weights.length; k++) s += weights[k]! * row[(start + k) * width + x]!;
        out[dst + y * width + x] = s;
      }
    }
  }
  return { data: out, channels: img.channels, width, height };
}

/** Model range [-1, 1] planar RGB -> interleaved 8-bit: round(clamp((x + 1) * 127.5, 0, 255)). */
export function toRgb8(img: PlanarImage): Uint8Array {
  if (img.channels !== 3) throw new RangeError(`expected 3 channels, got ${img.channels}`);
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = (img.data[c * n + i]! + 1) * 127.5;
      out[i * 3 + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return out;
}
