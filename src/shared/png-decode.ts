// PNG decoder for the faces the origin sends (8-bit RGB/RGBA, non-interlaced, any filter per row): the edge turns an
// origin PNG into pixels to encode the requested format with the same codec the origin uses, so both give the same
// bytes. Inflate via the Web DecompressionStream (workerd, Node, browsers). Validate first (edge/origin-png.ts).

async function inflate(parts: Uint8Array[]): Promise<Uint8Array> {
  const ds = new DecompressionStream("deflate");
  const writer = ds.writable.getWriter();
  const written = (async () => {
    for (const p of parts) await writer.write(p as Uint8Array<ArrayBuffer>);
    await writer.close();
  })();
  written.catch(() => undefined);
  return new Uint8Array(await new Response(ds.readable).arrayBuffer());
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decode a PNG to 8-bit RGB pixels (alpha dropped). Throws on anything but 8-bit RGB/RGBA non-interlaced. */
export async function decodePngRgb(bytes: Uint8Array): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8, width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (off + 12 <= bytes.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    const data = bytes.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = dv.getUint32(off + 8);
      height = dv.getUint32(off + 12);
      if (data[8] !== 8 || (data[9] !== 2 && data[9] !== 6) || data[12] !== 0) throw new Error("PNG is not 8-bit RGB/RGBA non-interlaced");
      channels = data[9] === 2 ? 3 : 4;
    } else if (type === "IDAT") {
      idat.push(data);
    } else if (type === "IEND") {
      break;
    }
    off += 12 + len;
  }
  if (!width || !channels) throw new Error("PNG without IHDR");
  const raw = await inflate(idat);
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error("PNG image data has the wrong length");
  const cur = new Uint8Array(stride), prev = new Uint8Array(stride);
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1), filter = raw[o]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[o + 1 + x]!;
      const a = x >= channels ? cur[x - channels]! : 0, b = prev[x]!, c = x >= channels ? prev[x - channels]! : 0;
      let p: number;
      switch (filter) {
        case 0: p = 0; break;
        case 1: p = a; break;
        case 2: p = b; break;
        case 3: p = (a + b) >> 1; break;
        case 4: p = paeth(a, b, c); break;
        default: throw new Error(`PNG filter ${filter} is invalid`);
      }
      cur[x] = (v + p) & 0xff;
    }
    for (let x = 0, j = y * width * 3; x < width; x++, j += 3) {
      rgb[j] = cur[x * channels]!;
      rgb[j + 1] = cur[x * channels + 1]!;
      rgb[j + 2] = cur[x * channels + 2]!;
    }
    prev.set(cur);
  }
  return { width, height, rgb };
}
