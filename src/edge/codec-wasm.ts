// The codec wasm modules, bundled by wrangler as CompiledWasm modules (workerd cannot compile wasm at run time)
// from wasm/ (assembled and sha256/SIMD-checked by scripts/build-wasm.ts, see wasm/README.md).
import avifWasm from "../../wasm/avif_enc.wasm";
import jpegWasm from "../../wasm/mozjpeg_enc.wasm";
import webpWasm from "../../wasm/webp_enc_simd.wasm";
import type { WasmCodec } from "../shared/codecs.js";
import { setCodecModuleLoader } from "../shared/codecs.js";

const MODULES: Record<WasmCodec, WebAssembly.Module> = { webp: webpWasm, jpeg: jpegWasm, avif: avifWasm };

let installed = false;
export function installEdgeCodecs(): void {
  if (installed) return;
  installed = true;
  setCodecModuleLoader((codec) => MODULES[codec]);
}
