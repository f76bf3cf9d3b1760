// Image formats of a face, one encoder per format, shared by the edge (workerd), the origin (Node) and tests.
// PNG is our own encoder (png.ts); WebP, JPEG and AVIF are the @jsquash WASM builds of libwebp, MozJPEG and libavif
// (versions pinned in package.json, wasm files assembled and sha256-checked into wasm/ by scripts/build-wasm.ts).
// Each runtime hands in the compiled WebAssembly.Module of each codec (workerd forbids compiling wasm at run time:
// the edge imports them as CompiledWasm modules; Node compiles the same files), so one URL is encoded by the same
// wasm with the same options everywhere, and its bytes are identical on the edge and the origin.
import webpFactory from "@jsquash/webp/codec/enc/webp_enc_simd.js";
import jpegFactory from "@jsquash/jpeg/codec/enc/mozjpeg_enc.js";
import avifFactory from "@jsquash/avif/codec/enc/avif_enc.js";
import { defaultOptions as webpDefaults } from "@jsquash/webp/meta.js";
import { defaultOptions as jpegDefaults } from "@jsquash/jpeg/meta.js";
import { defaultOptions as avifDefaults } from "@jsquash/avif/meta.js";
import type { Format } from "./formats.js";
import { encodePng } from "./png.js";

export type { Format } from "./formats.js";
export { CANONICAL_EXTENSION, CONTENT_TYPES, EXTENSIONS, FORMATS, negotiateFormat } from "./formats.js";
export type WasmCodec = Exclude<Format, "png">;

/**
 * Encoder settings, chosen by measurement (bench/formats.ts, docs/benchmarks.md "Formats"): over FFHQ faces, each
 * codec at about the same fidelity at 128 px (SSIM ~0.97-0.98, PSNR 35-38 dB against the lossless pixels) at the
 * knee of its bytes/fidelity curve; a 128 px WebP is ~2.3 KB (target: at most 4 KB). AVIF at speed 8 (of 0..10):
 * slower settings took seconds per 512 px face in WASM. Changing any of them changes served bytes: bump
 * CODEC_REVISION (formats.ts).
 */
export const QUALITY = {
  webp: { quality: 80, method: 4 },
  jpeg: { quality: 85 },
  avif: { quality: 60, speed: 8 },
} as const;


/** The wasm files each codec needs (names in wasm/, see wasm/README.md). */
export const CODEC_WASM_FILES: Record<WasmCodec, string> = {
  webp: "webp_enc_simd.wasm",
  jpeg: "mozjpeg_enc.wasm",
  avif: "avif_enc.wasm",
};

export type CodecModuleLoader = (codec: WasmCodec) => Promise<WebAssembly.Module> | WebAssembly.Module;

interface EmscriptenEncoder {
  encode(data: BufferSource, width: number, height: number, options: object): Uint8Array | null;
}
type Factory = (opts: object) => Promise<EmscriptenEncoder>;

const FACTORIES: Record<WasmCodec, Factory> = {
  webp: webpFactory as unknown as Factory,
  jpeg: jpegFactory as unknown as Factory,
  avif: avifFactory as unknown as Factory,
};

let loader: CodecModuleLoader | undefined;
const encoders = new Map<WasmCodec, Promise<EmscriptenEncoder>>();

/** Install how this runtime gets each codec's compiled module (edge: bundled modules; Node: files in wasm/). */
export function setCodecModuleLoader(l: CodecModuleLoader): void {
  loader = l;
  encoders.clear();
}

function encoder(codec: WasmCodec): Promise<EmscriptenEncoder> {
  let e = encoders.get(codec);
  if (!e) {
    if (!loader) throw new Error("no codec module loader installed (setCodecModuleLoader)");
    const l = loader;
    e = (async () => {
      const module = await l(codec);
      return FACTORIES[codec]({
        noInitialRun: true,
        // Instantiate the given, already compiled module (never fetch or compile wasm here).
        instantiateWasm: (imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void) => {
          const instance = new WebAssembly.Instance(module, imports);
          done(instance);
          return instance.exports;
        },
      });
    })();
    e.catch(() => encoders.delete(codec));
    encoders.set(codec, e);
  }
  return e;
}

function rgba(rgb: Uint8Array, width: number, height: number): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    out[j] = rgb[i]!;
    out[j + 1] = rgb[i + 1]!;
    out[j + 2] = rgb[i + 2]!;
    out[j + 3] = 255;
  }
  return out;
}

let overrides: Partial<Record<WasmCodec, object>> = {};

/** Benchmarks only (bench/formats.ts quality sweep): override encoder options. Never used when serving. */
export function setCodecOverrides(o: Partial<Record<WasmCodec, object>>): void {
  overrides = o;
}

/** The exact options passed to each wasm encoder (library defaults overridden by QUALITY). */
export function encoderOptions(codec: WasmCodec): object {
  const defaults = { webp: webpDefaults, jpeg: jpegDefaults, avif: avifDefaults }[codec];
  return { ...defaults, ...QUALITY[codec], ...(overrides[codec] ?? {}) };
}

/** Encode 8-bit RGB pixels (row-major, width x height) in a format. */
export async function encodeImage(format: Format, rgb: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  if (rgb.length !== width * height * 3) throw new RangeError(`pixel buffer has ${rgb.length} bytes, expected ${width * height * 3}`);
  if (format === "png") return encodePng(rgb, width, height);
  const enc = await encoder(format);
  const out = enc.encode(rgba(rgb, width, height), width, height, encoderOptions(format));
  if (!out || out.length === 0) throw new Error(`${format} encoder failed`);
  // Copy out of the wasm heap: the view is reused by the next encode.
  return new Uint8Array(out);
}

