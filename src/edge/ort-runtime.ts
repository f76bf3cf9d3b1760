// onnxruntime-web inside workerd (see /work/shared/notes/edge-runtime.md): workerd forbids compiling wasm at run
// time, so the ORT wasm is a CompiledWasm module that wrangler compiles ahead, and during ORT's one-time init we
// hand emscripten that Module instead of bytes. Single thread, no proxy worker. Also captures ORT's wasm Memory so
// the memory guard can measure it.
import * as ort from "onnxruntime-web/wasm";
// The same file as onnxruntime-web/ort-wasm-simd-threaded.wasm, assembled and checked into wasm/ by scripts/build-wasm.ts.
import ortWasm from "../../wasm/ort-wasm-simd-threaded.wasm";

let wasmMemory: WebAssembly.Memory | undefined;
let initQueue: Promise<unknown> = Promise.resolve();
let initialized = false;
let peakBytes = 0;

function findMemory(x: unknown, depth = 0): WebAssembly.Memory | undefined {
  if (x instanceof WebAssembly.Memory) return x;
  if (depth > 2 || typeof x !== "object" || x === null) return undefined;
  for (const v of Object.values(x)) {
    const m = findMemory(v, depth + 1);
    if (m) return m;
  }
  return undefined;
}

/** Bytes of ORT's wasm linear memory now (it only ever grows), or 0 before init. */
export function wasmMemoryBytes(): number {
  const n = wasmMemory?.buffer.byteLength ?? 0;
  if (n > peakBytes) peakBytes = n;
  return n;
}

export function wasmMemoryPeakBytes(): number {
  wasmMemoryBytes();
  return peakBytes;
}

export function ortVersion(): string {
  return ort.env.versions?.web ?? "unknown";
}

async function createWithPrecompiledWasm(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions) {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  // Any truthy value makes emscripten take the "I have the binary" path, which we intercept below.
  ort.env.wasm.wasmBinary = new Uint8Array(8);
  const original = WebAssembly.instantiate;
  const patched = async (source: unknown, imports?: WebAssembly.Imports) => {
    if (source instanceof WebAssembly.Module) return original(source, imports);
    wasmMemory = findMemory(imports);
    const instance = await original(ortWasm, imports);
    wasmMemory ??= findMemory(instance.exports);
    return { instance, module: ortWasm };
  };
  (WebAssembly as { instantiate: unknown }).instantiate = patched;
  try {
    return await ort.InferenceSession.create(bytes, options);
  } finally {
    WebAssembly.instantiate = original;
  }
}

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  executionProviders: ["wasm"],
  graphOptimizationLevel: "all",
};

/**
 * Create an ORT session from model bytes; `extra` are session config entries (see sessionExtra in the manifest module).
 * The first call initialises ORT; calls are serialised until then.
 */
export async function createSession(
  bytes: ArrayBuffer | Uint8Array,
  extra: Record<string, Record<string, string>> = {},
): Promise<ort.InferenceSession> {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const options = Object.keys(extra).length ? { ...SESSION_OPTIONS, extra } : SESSION_OPTIONS;
  if (initialized) return ort.InferenceSession.create(data, options);
  const run = initQueue.then(async () => {
    if (initialized) return ort.InferenceSession.create(data, options);
    const s = await createWithPrecompiledWasm(data, options);
    initialized = true;
    return s;
  });
  initQueue = run.catch(() => undefined);
  return run;
}

export { ort };
