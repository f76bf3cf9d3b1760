import { describe, expect, it } from "vitest";
import { PNG } from "pngjs";
import { decode as fastPngDecode } from "fast-png";
import { crc32, encodePng } from "../../src/shared/png.js";

function testImage(w: number, h: number, channels: 3 | 4, seed: number): Uint8Array {
  const px = new Uint8Array(w * h * channels);
  let s = seed;
  for (let i = 0; i < px.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    // smooth gradients plus noise, like a photo
    px[i] = ((i % (w * channels)) * 3 + Math.floor(i / (w * channels)) * 2 + (s >>> 28)) & 0xff;
  }
  return px;
}

describe("encodePng", () => {
  it("CRC-32 matches the standard check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
  });

  it.each([
    [1, 1, 3],
    [16, 16, 3],
    [33, 17, 3],
    [128, 128, 3],
    [20, 9, 4],
  ] as const)("%ix%i with %i channels decodes exactly with pngjs and fast-png", async (w, h, ch) => {
    const px = testImage(w, h, ch, w * 31 + h);
    const bytes = await encodePng(px, w, h, ch);
    const a = PNG.sync.read(Buffer.from(bytes), { skipRescale: true });
    expect([a.width, a.height]).toEqual([w, h]);
    const fromPngjs = new Uint8Array(w * h * ch);
    for (let i = 0; i < w * h; i++) for (let c = 0; c < ch; c++) fromPngjs[i * ch + c] = a.data[i * 4 + c]!;
    expect(Buffer.from(fromPngjs).equals(Buffer.from(px))).toBe(true);
    const b = fastPngDecode(bytes);
    expect([b.width, b.height, b.channels, b.depth]).toEqual([w, h, ch, 8]);
    expect(Buffer.from(b.data as Uint8Array).equals(Buffer.from(px))).toBe(true);
  });

  it("is deterministic and compresses", async () => {
    const px = testImage(64, 64, 3, 7);
    const a = await encodePng(px, 64, 64);
    const b = await encodePng(px, 64, 64);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const flat = await encodePng(new Uint8Array(64 * 64 * 3).fill(200), 64, 64);
    expect(flat.length).toBeLessThan(200);
  });

  it("rejects a buffer of the wrong length", async () => {
    await expect(encodePng(new Uint8Array(10), 2, 2)).rejects.toThrow(RangeError);
  });
});
