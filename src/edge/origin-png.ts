// Checks a PNG the origin sent before the edge serves or caches it: signature, chunk structure and CRCs, IHDR of
// exactly size x size 8-bit RGB/RGBA, non-interlaced, and IDAT that inflates to exactly the scanline bytes. A
// truncated, corrupted, wrong-size or non-PNG body is an origin failure, never a face.
import { crc32 } from "../shared/png.js";

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function inflatedLength(parts: Uint8Array[], limit: number): Promise<number> {
  const ds = new DecompressionStream("deflate");
  const writer = ds.writable.getWriter();
  const written = (async () => {
    for (const p of parts) await writer.write(p as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  written.catch(() => undefined); // the reader below reports the error
  let n = 0;
  const reader = ds.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > limit) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return n;
}

/** Why these bytes are not a valid size x size PNG face, or null when they are. */
export async function originPngProblem(bytes: Uint8Array, size: number): Promise<string | null> {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) return "not a PNG";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  let channels = 0;
  let sawEnd = false;
  const idat: Uint8Array[] = [];
  while (off < bytes.length) {
    if (off + 12 > bytes.length) return "truncated chunk header";
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    if (off + 12 + len > bytes.length) return `truncated ${type} chunk`;
    if (crc32(bytes.subarray(off + 4, off + 8 + len)) !== dv.getUint32(off + 8 + len)) return `bad CRC in ${type}`;
    const data = bytes.subarray(off + 8, off + 8 + len);
    if (off === 8) {
      if (type !== "IHDR" || len !== 13) return "first chunk is not IHDR";
      const w = dv.getUint32(off + 8), h = dv.getUint32(off + 12);
      if (w !== size || h !== size) return `${w}x${h} instead of ${size}x${size}`;
      if (data[8] !== 8 || (data[9] !== 2 && data[9] !== 6) || data[12] !== 0) return "not 8-bit RGB/RGBA non-interlaced";
      channels = data[9] === 2 ? 3 : 4;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      sawEnd = true;
      break;
    }
    off += 12 + len;
  }
  if (!sawEnd) return "no IEND (truncated)";
  if (idat.length === 0) return "no image data";
  const expected = size * (1 + size * channels);
  try {
    const got = await inflatedLength(idat, expected);
    if (got !== expected) return `image data inflates to ${got} bytes, expected ${expected}`;
  } catch {
    return "image data does not inflate";
  }
  return null;
}
