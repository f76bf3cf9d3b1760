// seedface-seed/1 against the shared vectors written by the Python implementation (vectors/seed.json): bit-exact.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { acklam, latentFromSeed, noisesFromSeed, philox4x32_10, seedKey, specLn, streamWords, wordToUniform } from "../../src/shared/seed.js";

interface Vectors {
  algorithm: string;
  style_dim: number;
  noise_sizes: number[];
  philox: { ctr: number[]; key: number[]; out: number[] }[];
  seeds: {
    seed: string;
    seed_utf8_hex: string;
    digest_hex: string;
    h: number[];
    stream0_words: number[];
    stream1_words: number[];
    z_bits: number[];
    noise: { k: number; size: number; first16_bits: number[] }[];
  }[];
  normal_words: { word: number; f64_hex: string; f32_bits: number }[];
}

const V: Vectors = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../vectors/seed.json"), "utf8"));
const f32bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
function f64hex(x: number): string {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  return dv.getBigUint64(0).toString(16).padStart(16, "0");
}

describe("seedface-seed/1 vectors", () => {
  it("covers the algorithm this code implements", () => {
    expect(V.algorithm).toBe("seedface-seed/1");
    expect(V.seeds.length).toBeGreaterThanOrEqual(4);
  });

  it("Philox4x32-10 known answers", () => {
    for (const p of V.philox) expect(philox4x32_10(p.ctr, p.key)).toEqual(p.out);
    expect(philox4x32_10([0, 0, 0, 0], [0, 0])).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
  });

  it("word -> normal is bit-exact in float64 (both tails, centre, extremes)", () => {
    for (const n of V.normal_words) {
      const x = acklam(wordToUniform(n.word));
      expect(f64hex(x), `word ${n.word}`).toBe(n.f64_hex);
      expect(f32bits(new Float32Array([x]))[0]).toBe(n.f32_bits);
    }
  });

  it.each(V.seeds.map((s) => [JSON.stringify(s.seed).slice(0, 40), s] as const))("seed %s: bytes, key, streams, z and noise", async (_, s) => {
    expect(Buffer.from(new TextEncoder().encode(s.seed)).toString("hex")).toBe(s.seed_utf8_hex);
    const k = await seedKey(s.seed);
    expect(k.key).toEqual([s.h[0], s.h[1]]);
    expect(k.ctrHi).toEqual([s.h[2], s.h[3]]);
    expect(Array.from(streamWords(k, 0, 16))).toEqual(s.stream0_words);
    expect(Array.from(streamWords(k, 1, 16))).toEqual(s.stream1_words);
    expect(f32bits(await latentFromSeed(s.seed, V.style_dim))).toEqual(s.z_bits);
    const noise = await noisesFromSeed(s.seed, s.noise.map((n) => n.size));
    s.noise.forEach((n, i) => expect(f32bits(noise[i]!.slice(0, 16)), `noise_${n.k}`).toEqual(n.first16_bits));
  });
});

describe("spec ln", () => {
  it("agrees with Math.log to ~1 ulp over the range it is used on", () => {
    for (const v of [2 ** -32, 1e-9, 0.001, 0.02425, 0.3, 0.5, 0.999, 1, 1.5, Math.SQRT2, 2, 1000]) {
      expect(Math.abs(specLn(v) - Math.log(v))).toBeLessThanOrEqual(4 * Number.EPSILON * Math.max(1, Math.abs(Math.log(v))));
    }
  });
  it("normals from many seeds have mean ~0 and variance ~1", async () => {
    const z = await latentFromSeed("statistics", 20000);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const v = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
  });
});
