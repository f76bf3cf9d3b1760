// Node (origin, tests, benchmarks): compile the codec wasm files from wasm/ (assembled by scripts/build-wasm.ts,
// the same files the edge bundles) and install them as the codec loader.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { WasmCodec } from "../shared/codecs.js";
import { CODEC_WASM_FILES, setCodecModuleLoader } from "../shared/codecs.js";

export const WASM_DIR = resolve(import.meta.dirname, "../../wasm");

export function installNodeCodecs(dir = WASM_DIR): void {
  const cache = new Map<WasmCodec, Promise<WebAssembly.Module>>();
  setCodecModuleLoader((codec) => {
    let m = cache.get(codec);
    if (!m) {
      const file = join(dir, CODEC_WASM_FILES[codec]);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = new Uint8Array(readFileSync(file));
      } catch {
        throw new Error(`${file} is missing: run \`npm run build:wasm\``);
      }
      m = WebAssembly.compile(bytes);
      cache.set(codec, m);
    }
    return m;
  });
}
