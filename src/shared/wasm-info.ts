// Minimal WebAssembly binary reader: does a module use 128-bit SIMD? True when any function type or function local
// has the v128 value type (0x7b), which every SIMD build (ORT's, libwebp's) has and a scalar build cannot.
function leb(bytes: Uint8Array, pos: { i: number }): number {
  let result = 0, shift = 0, b: number;
  do {
    b = bytes[pos.i++]!;
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return result;
}

const V128 = 0x7b;

export function usesSimd(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error("not a wasm module");
  const pos = { i: 8 };
  while (pos.i < bytes.length) {
    const id = bytes[pos.i++]!;
    const size = leb(bytes, pos);
    const end = pos.i + size;
    if (id === 1) {
      // type section: vec(functype 0x60 vec(valtype) vec(valtype))
      const p = { i: pos.i };
      const n = leb(bytes, p);
      for (let k = 0; k < n; k++) {
        if (bytes[p.i++] !== 0x60) break;
        for (let side = 0; side < 2; side++) {
          const m = leb(bytes, p);
          for (let j = 0; j < m; j++) if (bytes[p.i++] === V128) return true;
        }
      }
    } else if (id === 10) {
      // code section: vec(size, vec(count, valtype) locals, expr)
      const p = { i: pos.i };
      const n = leb(bytes, p);
      for (let k = 0; k < n; k++) {
        const bodySize = leb(bytes, p);
        const bodyEnd = p.i + bodySize;
        const groups = leb(bytes, p);
        for (let g = 0; g < groups; g++) {
          leb(bytes, p);
          if (bytes[p.i++] === V128) return true;
        }
        p.i = bodyEnd;
      }
    }
    pos.i = end;
  }
  return false;
}
