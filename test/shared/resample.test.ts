import { describe, expect, it } from "vitest";
import type { PlanarImage } from "../../src/shared/resample.js";
import { resample, resampleTaps, toRgb8 } from "../../src/shared/resample.js";

function plane(w: number, h: number, f: (x: number, y: number) => number): PlanarImage {
  const data = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[c * w * h + y * w + x] = f(x, y) + c * 0.01;
  return { data, channels: 3, width: w, height: h };
}

describe("resample", () => {
  it("taps sum to one for shrinking and enlarging", () => {
    for (const [i, o] of [[128, 96], [128, 17], [64, 64], [32, 100], [16, 1024]] as const) {
      for (const t of resampleTaps(i, o)) expect(t.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it("area downscale by 2 averages 2x2 blocks exactly", () => {
    const img = plane(4, 4, (x, y) => x + 10 * y);
    const out = resample(img, 2, 2);
    expect(Array.from(out.data.slice(0, 4))).toEqual([5.5, 7.5, 25.5, 27.5]);
  });

  it("gives exactly the requested size and keeps constant images constant", () => {
    for (const [from, to] of [[128, 96], [128, 100], [32, 47], [64, 1024]] as const) {
      const out = resample(plane(from, from, () => 0.25), to, to);
      expect([out.width, out.height, out.data.length]).toEqual([to, to, 3 * to * to]);
      for (let i = 0; i < to * to; i++) expect(out.data[i]).toBeCloseTo(0.25, 6);
    }
  });

  it("preserves the mean of a ramp when shrinking (area filter)", () => {
    const img = plane(100, 100, (x) => x / 99);
    const out = resample(img, 37, 37);
    const mean = (p: Float32Array, n: number) => p.slice(0, n).reduce((a, b) => a + b, 0) / n;
    expect(mean(out.data, 37 * 37)).toBeCloseTo(mean(img.data, 100 * 100), 5);
  });

  it("upscaling reproduces a linear ramp away from the edges (bicubic)", () => {
    const out = resample(plane(8, 8, (x) => x / 7), 56, 56);
    for (let x = 11; x < 31; x++) expect(out.data[x]!).toBeCloseTo(((x + 0.5) / 7 - 0.5) / 7, 6);
  });
});

describe("toRgb8", () => {
  it("maps [-1, 1] to [0, 255] with clamping and rounding, interleaved", () => {
    const img: PlanarImage = { data: new Float32Array([-1, 1, 0, 2, -2, 0.5, 0, 0, 0, 0, 0, 0]), channels: 3, width: 2, height: 2 };
    expect(Array.from(toRgb8(img).slice(0, 6))).toEqual([0, 0, 128, 255, 191, 128]);
  });
});
