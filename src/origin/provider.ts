// Execution-provider choice for onnxruntime-node: CUDA when asked for (or "auto") and usable, else CPU.
// The CUDA provider is not bundled in the npm tarball (see docs/origin.md for installing it on a GPU host).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import type { EpChoice } from "./config.js";

export type EpName = "cuda" | "cpu";

export interface ProviderChoice {
  ep: EpName;
  /** Why this provider was chosen (logged at start, shown in /v1/healthz). */
  reason: string;
}

/** Folder holding onnxruntime-node's native libraries for this platform. */
export function ortBinDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("onnxruntime-node/package.json"));
  return join(pkg, "bin", "napi-v6", process.platform, process.arch);
}

export function cudaLibraryPresent(): boolean {
  return existsSync(join(ortBinDir(), "libonnxruntime_providers_cuda.so"));
}

export function sessionOptions(ep: EpName, threads: number): ort.InferenceSession.SessionOptions {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: ep === "cuda" ? [{ name: "cuda", deviceId: 0 } as ort.InferenceSession.ExecutionProviderConfig] : ["cpu"],
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    // Spinning intra-op threads steal the core the other batch / the HTTP loop needs; measured with bench:openvino
    // (FFHQ 1024, 2 threads): 0.95x -> 0.76x of OpenVINO's time with spinning off, no change at 1 thread.
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  };
  if (threads > 0) {
    opts.intraOpNumThreads = threads;
    opts.interOpNumThreads = 1;
  }
  return opts;
}

/**
 * Picks the provider by creating a real session on `probeModel` with CUDA; any failure (library missing, no
 * driver, no device) falls back to CPU with the error as the reason.
 */
export async function chooseProvider(want: EpChoice, probeModel: Uint8Array, threads: number): Promise<ProviderChoice> {
  if (want === "cpu") return { ep: "cpu", reason: "CPU requested (--ep cpu)" };
  if (!cudaLibraryPresent()) {
    return { ep: "cpu", reason: `CUDA provider not installed (no libonnxruntime_providers_cuda.so in ${ortBinDir()}); using CPU` };
  }
  try {
    const s = await ort.InferenceSession.create(probeModel, sessionOptions("cuda", threads));
    await s.release();
    return { ep: "cuda", reason: "CUDA provider loaded (device 0)" };
  } catch (e) {
    const msg = String(e instanceof Error ? e.message : e).split("\n")[0]!.slice(0, 300);
    return { ep: "cpu", reason: `CUDA provider failed to start (${msg}); using CPU` };
  }
}
