// The render worker: one per page and path. Loads ORT and the model once (Cache Storage, else one download), then
// renders faces one at a time with the same pipeline and the same level choice as the edge (src/shared/face.ts,
// edgeDrawLevel; one session per level over the pruned graph, ort-runner.ts), so the same seed gives the same face.
import { attributesEntry, parseAttributes, setModelAttributes } from "../shared/attributes.js";
import { renderFacePixels } from "../shared/face.js";
import type { Manifest } from "../shared/manifest.js";
import { edgeDrawLevel, edgeMaxSize, parseManifest } from "../shared/manifest.js";
import type { FromWorker, InitRequest, RenderRequest, ToWorker } from "./messages.js";
import { ModelStore } from "./model-store.js";
import { OrtRunner, loadOrt } from "./ort-runner.js";

const scope = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };

let model: Promise<{ m: Manifest; runner: OrtRunner }> | undefined;
// Renders run one after another: one ORT session is not re-entrant, and a queue keeps memory flat.
let queue: Promise<unknown> = Promise.resolve();

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function init(req: InitRequest): Promise<{ m: Manifest; runner: OrtRunner }> {
  const t0 = performance.now();
  const [ort, store] = await Promise.all([loadOrt(req.base, req.path), ModelStore.open(req.base)]);
  const m = parseManifest(JSON.parse(new TextDecoder().decode(await store.bytes("manifest.json"))));
  // Attribute directions, when the model has them and the build copied them (checked against models.json's hash).
  const attrs = attributesEntry(m);
  if (attrs && store.has(attrs.file)) {
    setModelAttributes(m, parseAttributes(JSON.parse(new TextDecoder().decode(await store.bytes(attrs.file))), m.style_dim));
  }
  const runner = await OrtRunner.create(ort, m, store, req.path);
  scope.postMessage({
    type: "ready",
    path: req.path,
    model: {
      id: m.id, version: m.version, resolution: m.resolution, maxSize: edgeMaxSize(m) ?? m.resolution,
      defaultPsi: m.truncation.default_psi, precision: runner.precision,
    },
    initMs: performance.now() - t0,
  });
  return { m, runner };
}

async function render(req: RenderRequest): Promise<void> {
  try {
    const { m, runner } = await model!;
    const t0 = performance.now();
    // The level the edge draws this size from (its serving table; above its edge_max_size, that level upscaled).
    const level = edgeDrawLevel(m, req.size).output;
    const rgb = await renderFacePixels(runner, m, { kind: "face", seed: req.seed, size: req.size, psi: req.psi, model: "student", ...(req.attributes ? { attributes: req.attributes } : {}) }, { output: level });
    const n = req.size * req.size;
    const rgba = new Uint8ClampedArray(n * 4);
    for (let i = 0; i < n; i++) {
      rgba[4 * i] = rgb[3 * i]!;
      rgba[4 * i + 1] = rgb[3 * i + 1]!;
      rgba[4 * i + 2] = rgb[3 * i + 2]!;
      rgba[4 * i + 3] = 255;
    }
    started = true;
    scope.postMessage({ type: "face", id: req.id, width: req.size, height: req.size, rgba: rgba.buffer, ms: performance.now() - t0, level, inputs: [...runner.lastStudentInputs] },
      [rgba.buffer]);
  } catch (e) {
    scope.postMessage({ type: "render-error", id: req.id, message: errorText(e) });
  }
}

// ORT can fail outside the promise chain (inside its wasm callbacks); before the first face, that means the
// renderer cannot start, so report it rather than leave the page waiting.
let started = false;
function failStart(e: unknown): void {
  if (!started) scope.postMessage({ type: "init-error", message: errorText(e) });
}
self.addEventListener("error", (e) => failStart((e as ErrorEvent).error ?? (e as ErrorEvent).message));
self.addEventListener("unhandledrejection", (e) => failStart((e as PromiseRejectionEvent).reason));

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "init") {
    if (model) return;
    model = init(msg);
    model.catch((err: unknown) => scope.postMessage({ type: "init-error", message: errorText(err) }));
  } else if (msg.type === "render") {
    queue = queue.then(() => render(msg));
  }
};
