// What this browser can do, probed once per page.

export type WebGPUKind = "hardware" | "software" | null;

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

let webgpu: Promise<WebGPUKind> | undefined;

/**
 * The WebGPU adapter navigator.gpu gives: "hardware", "software" (a fallback / CPU adapter such as SwiftShader:
 * correct, but bench:embed measured it ~100x slower per face than WASM), or null without one.
 */
export function webGPUAdapter(): Promise<WebGPUKind> {
  webgpu ??= (async () => {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<AdapterLike | null> } }).gpu;
    if (!gpu) return null;
    try {
      const a = await gpu.requestAdapter();
      if (!a) return null;
      const text = `${a.info?.vendor ?? ""} ${a.info?.architecture ?? ""} ${a.info?.description ?? ""}`.toLowerCase();
      const software = a.isFallbackAdapter === true || a.info?.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/.test(text);
      return software ? "software" : "hardware";
    } catch {
      return null;
    }
  })();
  return webgpu;
}

export function hasWasm(): boolean {
  return typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
}
