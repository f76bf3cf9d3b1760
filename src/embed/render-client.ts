// The page's one render worker per path (webgpu or wasm): every <seed-face> on the page shares it, so the model
// is fetched and the ORT session created once per page, and rendering runs off the main thread. Requests queue in
// the worker; identical requests share one result.
import type { AttributeOptions } from "../shared/attributes.js";
import { attributeQuery, hasAttributes } from "../shared/attributes.js";
import type { ClientPath, FromWorker, ModelInfo, ToWorker } from "./messages.js";

export interface FaceImage {
  width: number;
  height: number;
  rgba: Uint8ClampedArray<ArrayBuffer>;
  /** Inference + post-processing time in the worker. */
  ms: number;
  /** Student output it was drawn from, and the inputs fed to that level's pruned graph. */
  level: string;
  inputs: string[];
}

const INIT_TIMEOUT_MS = 90_000;
const MEMO_MAX = 256;

/** A module worker from `url`; a cross-origin script is wrapped in a same-origin blob module that imports it. */
function startWorker(url: string): Worker {
  if (new URL(url).origin === location.origin) return new Worker(url, { type: "module", name: "seedface" });
  const blob = new Blob([`import ${JSON.stringify(url)};`], { type: "text/javascript" });
  return new Worker(URL.createObjectURL(blob), { type: "module", name: "seedface" });
}

export class FaceRenderer {
  private static readonly instances = new Map<string, FaceRenderer>();
  readonly ready: Promise<ModelInfo>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (f: FaceImage) => void; reject: (e: Error) => void }>();
  private readonly memo = new Map<string, Promise<FaceImage>>();
  private nextId = 1;

  static get(base: string, path: ClientPath): FaceRenderer {
    const key = `${base} ${path}`;
    let r = FaceRenderer.instances.get(key);
    if (!r) {
      r = new FaceRenderer(base, path);
      FaceRenderer.instances.set(key, r);
    }
    return r;
  }

  private constructor(base: string, readonly path: ClientPath) {
    this.worker = startWorker(new URL("embed/face-worker.js", base).href);
    this.ready = new Promise<ModelInfo>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${path} renderer did not start within ${INIT_TIMEOUT_MS} ms`)), INIT_TIMEOUT_MS);
      this.worker.addEventListener("error", (e) => {
        clearTimeout(timer);
        const err = new Error(`render worker failed: ${e.message || "could not load"}`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
      this.worker.addEventListener("message", (e: MessageEvent<FromWorker>) => {
        const m = e.data;
        if (m.type === "ready") {
          clearTimeout(timer);
          resolve(m.model);
        } else if (m.type === "init-error") {
          clearTimeout(timer);
          reject(new Error(m.message));
        } else {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.type === "face") p.resolve({ width: m.width, height: m.height, rgba: new Uint8ClampedArray(m.rgba), ms: m.ms, level: m.level, inputs: m.inputs });
          else p.reject(new Error(m.message));
        }
      });
    });
    this.ready.catch(() => this.worker.terminate());
    this.post({ type: "init", base, path });
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  render(seed: string, size: number, psi: number, attributes?: AttributeOptions): Promise<FaceImage> {
    const attrs = hasAttributes(attributes) ? attributes : undefined;
    const key = JSON.stringify([seed, size, psi, attributeQuery(attrs)]);
    let p = this.memo.get(key);
    if (!p) {
      p = this.ready.then(() => new Promise<FaceImage>((resolve, reject) => {
        const id = this.nextId++;
        this.pending.set(id, { resolve, reject });
        this.post({ type: "render", id, seed, size, psi, ...(attrs ? { attributes: attrs } : {}) });
      }));
      p.catch(() => this.memo.delete(key));
      this.memo.set(key, p);
      if (this.memo.size > MEMO_MAX) this.memo.delete(this.memo.keys().next().value!);
    }
    return p;
  }
}
