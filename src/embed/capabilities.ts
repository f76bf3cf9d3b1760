// What this browser can do, probed once per page.

let webgpu: Promise<boolean> | undefined;

/** True when navigator.gpu gives a real adapter (a software adapter counts: it renders correctly). */
export function hasWebGPU(): Promise<boolean> {
  webgpu ??= (async () => {
    const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) return false;
    try {
      return (await gpu.requestAdapter()) !== null;
    } catch {
      return false;
    }
  })();
  return webgpu;
}

export function hasWasm(): boolean {
  return typeof WebAssembly === "object" && typeof WebAssembly.instantiate === "function";
}
