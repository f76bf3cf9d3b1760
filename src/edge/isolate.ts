// The edge's per-isolate state: the model (built once per isolate from the bundled manifest and files, with its
// sessions and the memory guard's measurements) and the guard's view of it. The routes read it from here; no
// route imports another.
import { parseAttributes, setModelAttributes } from "../shared/attributes.js";
import { HttpError } from "../shared/errors.js";
import { parseManifest } from "../shared/manifest.js";
import { ASSET_FILES, BUNDLED_ATTRIBUTES, BUNDLED_ERROR, BUNDLED_FILES, BUNDLED_MANIFEST } from "./bundled-model.generated.js";
import type { EdgeConfig } from "./config.js";
import { EdgeModel } from "./edge-model.js";
import type { GuardState } from "./memory-guard.js";

let cached: EdgeModel | null | undefined;

/** Why the build has no model (null when it has one). */
export function noModelReason(): string {
  return BUNDLED_ERROR ?? "this build has no model";
}

/** The model of this isolate, or null when the build had none. Throws if its manifest is invalid. */
export function edgeModel(): EdgeModel | null {
  if (cached === undefined) {
    cached = BUNDLED_MANIFEST === null ? null : new EdgeModel(parseManifest(BUNDLED_MANIFEST), BUNDLED_FILES, ASSET_FILES);
    // The attribute directions were inlined (and checked against the manifest's sha256) at build time.
    if (cached && BUNDLED_ATTRIBUTES) setModelAttributes(cached.manifest, parseAttributes(BUNDLED_ATTRIBUTES, cached.manifest.style_dim));
  }
  return cached;
}

/** The model of this isolate; a 503 (no_model) when the build had none. */
export function requireModel(): EdgeModel {
  const model = edgeModel();
  if (!model) throw new HttpError(503, "no_model", noModelReason(), { "retry-after": "300" });
  return model;
}

/** The memory guard's state for this isolate's model under the configured budget. */
export function guardState(model: EdgeModel, cfg: EdgeConfig): GuardState {
  return model.guardState(cfg.wasmBudgetBytes);
}
