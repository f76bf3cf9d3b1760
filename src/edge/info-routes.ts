// GET /v1/models (what this edge serves) and GET /healthz (liveness + runtime state; never loads ORT).
import type { Context } from "hono";
import { CONTRACT_VERSION } from "../shared/contract.js";
import { edgeLevels, edgeMaxSize, studentLevels } from "../shared/manifest.js";
import { DEFAULT_SIZE, SIZE_MAX, SIZE_MIN } from "../shared/params.js";
import { SEED_ALGORITHM } from "../shared/seed.js";
import type { EdgeEnv } from "./config.js";
import { edgeConfig } from "./config.js";
import { edgeModel, guardState, requireModel } from "./isolate.js";
import { levelFits, levelNeed } from "./memory-guard.js";
import { breakerStates } from "./origin-client.js";
import { ortVersion, wasmMemoryBytes, wasmMemoryPeakBytes } from "./ort-runtime.js";

const json = (c: Context, body: unknown, status = 200) =>
  c.json(body, status as 200, { "cache-control": "no-store", "access-control-allow-origin": "*" });

export function modelsRoute(c: Context<{ Bindings: EdgeEnv }>): Response {
  const cfg = edgeConfig(c.env ?? {});
  const model = requireModel();
  const m = model.manifest;
  const g = guardState(model, cfg);
  const hasOrigin = cfg.origins.length > 0;
  const net = (n: keyof typeof m.networks) => {
    const s = m.networks[n];
    return s ? { params: s.params ?? null, macs: s.macs ?? null, channels: s.channels ?? null, n_w: s.n_w ?? null } : null;
  };
  return json(c, {
    models: [
      {
        id: m.id,
        version: m.version,
        earlier_versions: m.earlier_versions ?? [],
        label: model.label,
        architecture: m.architecture ?? null,
        resolution: m.resolution,
        style_dim: m.style_dim,
        trained: m.trained ?? null,
        status: m.status ?? null,
        seed_algorithm: m.seed_algorithm,
        default: true,
        params: { size: { min: SIZE_MIN, max: SIZE_MAX, default: cfg.defaultSize ?? DEFAULT_SIZE }, psi: { min: 0, max: 1, default: m.truncation.default_psi }, model: hasOrigin && m.networks.teacher ? ["student", "teacher"] : ["student"], t: { min: 0, max: 1, default: 0.5 } },
        edge: {
          network: "student",
          precision: model.studentPrecision,
          mapping_precision: model.mappingFile.precision,
          weights: model.weights === "assets" ? "static assets (fetched once per isolate, sha256-checked)" : "bundled",
          int8_weights_folded: model.foldInt8,
          wasm_budget_bytes: cfg.wasmBudgetBytes,
          max_size: edgeMaxSize(m),
          serving: m.networks.student.serving?.sizes ?? null,
          levels: studentLevels(m).map((l) => ({ size: l.size, output: l.output, macs: l.macs, peak_activation_bytes: l.peak_activation_bytes, estimated_wasm_bytes: levelNeed(l, g), within_budget: levelFits(l, g), at_edge: edgeLevels(m).some((e) => e.output === l.output) })),
          sizes_rendered_at_edge: edgeLevels(m).filter((l) => levelFits(l, g)).map((l) => l.size),
          above_max_size: edgeMaxSize(m) === null ? null : hasOrigin ? "origin" : `the ${edgeMaxSize(m)}px level upscaled (X-Face-Upscaled)`,
          above_resolution: hasOrigin ? "origin" : "native render + bicubic upscale",
          live_sessions: model.liveLevels,
        },
        networks: { mapping: net("mapping"), student: net("student"), teacher: m.networks.teacher ? { ...net("teacher"), via: hasOrigin ? "origin" : "unavailable (no ORIGIN_URL)" } : null },
        quantization: m.quantization ?? null,
        metrics: m.metrics ?? null,
        provenance: m.provenance ?? null,
        training_data: m.training_data ?? null,
        licence_note: m.training_data?.licence
          ? `${m.training_data.licence}${m.training_data.note ? ` (${m.training_data.note})` : ""}`
          : `no training data recorded: ${m.status ?? "see the model manifest"}`,
      },
    ],
    origin: { configured: hasOrigin, count: cfg.origins.length, contract: CONTRACT_VERSION },
  });
}

export function healthRoute(c: Context<{ Bindings: EdgeEnv }>): Response {
  const cfg = edgeConfig(c.env ?? {});
  let model;
  try {
    model = edgeModel();
  } catch (e) {
    return json(c, { ok: false, error: { code: "bad_model", message: String((e as Error).message) } }, 503);
  }
  return json(c, {
    ok: model !== null,
    model: model?.label ?? null,
    seed_algorithm: SEED_ALGORITHM,
    onnxruntime_web: ortVersion(),
    sessions_loaded: model?.sessionsLoaded ?? false,
    student_sessions: model?.sessionInfo() ?? [],
    weights: model ? model.weights : null,
    weights_error: model?.weightsError ?? null,
    evictions: model?.evictions ?? 0,
    wasm_memory_bytes: wasmMemoryBytes(),
    wasm_memory_peak_bytes: wasmMemoryPeakBytes(),
    wasm_budget_bytes: cfg.wasmBudgetBytes,
    origins: cfg.origins.length,
    breakers: breakerStates(),
  }, model ? 200 : 503);
}
