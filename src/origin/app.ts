// HTTP surface of the origin (contract: src/shared/contract.ts): /v1/face/<seed>.png, /v1/models, /v1/healthz.
// Bearer auth on face and models; healthz is open so load balancers can probe it.
import { Hono } from "hono";
import type { Context } from "hono";
import { CONTRACT_VERSION, HEADER_RENDER_MS, HEADER_REQUEST_ID, ORIGIN_API_PREFIX, ORIGIN_FACE_PREFIX, ORIGIN_HEALTH_PATH, ORIGIN_MORPH_PREFIX, modelLabel } from "../shared/contract.js";
import { encodeImage } from "../shared/codecs.js";
import { installNodeCodecs } from "./codecs-node.js";
import { Coalescer } from "../shared/coalesce.js";
import { HttpError, errorResponse } from "../shared/errors.js";
import { checkAttributes, modelAttributes } from "../shared/attributes.js";
import { renderFacePixels } from "../shared/face.js";
import { etagMatches, faceEtag, imageHeaders } from "../shared/http.js";
import { studentLevels } from "../shared/manifest.js";
import type { FaceRequest } from "../shared/params.js";
import { SIZE_MAX, SIZE_MIN, canonicalKey, parseFacePath } from "../shared/params.js";
import { makeBearerCheck } from "../shared/bearer.js";
import type { BatchInfo } from "./batcher.js";
import { QueueFullError, RenderTimeoutError } from "./batcher.js";
import type { BatchingRunner } from "./batching-runner.js";
import type { OriginConfig } from "./config.js";
import { ByteLru } from "./lru.js";
import type { LoadedModel } from "./models.js";

export interface OriginState {
  draining: boolean;
  /** HTTP requests currently being answered (shutdown waits for them). */
  inflight: number;
}

interface Rendered {
  png: Uint8Array;
  timing: { name: string; dur: number }[];
}

export interface OriginApp {
  app: Hono;
  state: OriginState;
  lru: ByteLru;
}

const MODELS_PATH = "/v1/models";

export function createOriginApp(cfg: OriginConfig, model: LoadedModel, runner: BatchingRunner): OriginApp {
  const m = model.manifest;
  installNodeCodecs();
  const state: OriginState = { draining: false, inflight: 0 };
  const lru = new ByteLru(cfg.lruBytes);
  const rendering = new Coalescer<Rendered>();
  let admitted = 0;
  const authorized = makeBearerCheck(cfg.token);
  const app = new Hono();

  const busy = (code: string, message: string) =>
    new HttpError(503, code, message, { "retry-after": String(cfg.retryAfterS) });

  app.use("*", async (c, next) => {
    state.inflight++;
    try {
      await next();
    } finally {
      state.inflight--;
    }
    if (state.draining) c.res.headers.set("connection", "close");
    // Echo the edge's request id so one face can be traced through both logs.
    const rid = c.req.header(HEADER_REQUEST_ID);
    if (rid && rid.length <= 128) c.res.headers.set(HEADER_REQUEST_ID, rid);
  });

  app.onError((err) => {
    if (err instanceof HttpError) return errorResponse(err);
    console.error(JSON.stringify({ event: "internal_error", message: String(err instanceof Error ? err.stack : err) }));
    return errorResponse(new HttpError(500, "internal", "internal error while rendering; see the origin's log"));
  });
  app.notFound((c) =>
    errorResponse(new HttpError(404, "not_found", `no route for ${c.req.path}; try GET ${ORIGIN_FACE_PREFIX}<seed>.png, ${MODELS_PATH} or ${ORIGIN_HEALTH_PATH}`)),
  );

  const requireAuth = (c: Context) => {
    if (!authorized(c.req.header("authorization"))) {
      throw new HttpError(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer <token>)", {
        "www-authenticate": 'Bearer realm="seedface-origin"',
      });
    }
  };

  const methodNotAllowed = (allow: string) => () => {
    throw new HttpError(405, "method_not_allowed", `only ${allow} are allowed here`, { allow });
  };

  app.get(ORIGIN_HEALTH_PATH, (c) => {
    const body = {
      ok: !state.draining,
      status: state.draining ? "draining" : "ready",
      contract: CONTRACT_VERSION,
      model: `${m.id}@${m.version}`,
      networks: Object.keys(model.networks),
      ep: model.provider.ep,
      ep_reason: model.provider.reason,
      queue: { load: admitted, max: cfg.maxQueue },
      batches: runner.stats,
      lru: { bytes: lru.bytes, max_bytes: lru.maxBytes, entries: lru.size, hits: lru.hits, misses: lru.misses },
    };
    return c.json(body, state.draining ? 503 : 200, { "cache-control": "no-store" });
  });
  app.all(ORIGIN_HEALTH_PATH, methodNotAllowed("GET"));

  app.get(MODELS_PATH, (c) => {
    requireAuth(c);
    const net = (name: "mapping" | "student" | "teacher") => {
      const spec = m.networks[name];
      const loaded = model.networks[name];
      if (!spec || !loaded) return undefined;
      return { file: loaded.file, precision: loaded.precision, params: spec.params, macs: spec.macs, batchable: loaded.batchable };
    };
    return c.json(
      {
        contract: CONTRACT_VERSION,
        ep: model.provider.ep,
        models: [
          {
            id: m.id,
            version: m.version,
            resolution: m.resolution,
            style_dim: m.style_dim,
            trained: m.trained ?? null,
            status: m.status ?? null,
            default_psi: m.truncation.default_psi,
            seed_algorithm: m.seed_algorithm,
            networks: { mapping: net("mapping"), student: net("student"), teacher: net("teacher") ?? null },
            student_levels: studentLevels(m).map((l) => ({ size: l.size, macs: l.macs })),
            sizes: { min: SIZE_MIN, max: SIZE_MAX },
            training_data: m.training_data ?? null,
          },
        ],
      },
      200,
      { "cache-control": "no-store" },
    );
  });
  app.all(MODELS_PATH, methodNotAllowed("GET"));

  async function render(req: FaceRequest, key: string): Promise<Rendered> {
    const infos: BatchInfo[] = [];
    const t0 = performance.now();
    const runner0 = runner.forRequest(t0 + cfg.timeoutMs, infos);
    const pixels = await renderFacePixels(runner0, m, req);
    const t1 = performance.now();
    const png = await encodeImage(req.format ?? "png", pixels, req.size, req.size);
    const t2 = performance.now();
    lru.set(key, png);
    const queue = infos.reduce((s, i) => s + i.waitedMs, 0);
    const infer = infos.reduce((s, i) => s + i.runMs, 0);
    const batch = Math.max(...infos.map((i) => i.batchSize));
    return {
      png,
      timing: [
        { name: "queue", dur: queue },
        { name: "infer", dur: infer },
        { name: "pixels", dur: t1 - t0 - queue - infer },
        { name: "encode", dur: t2 - t1 },
        { name: `batch${batch}`, dur: 0 },
      ],
    };
  }

  /** One render per key at a time; the bounded queue counts distinct renders in flight. */
  function renderOnce(req: FaceRequest, key: string): Promise<Rendered> {
    return rendering.run(key, () => {
      if (state.draining) throw busy("shutting_down", "the origin is shutting down; retry on another origin");
      if (admitted >= cfg.maxQueue) {
        throw busy("overloaded", `the origin's render queue is full (${cfg.maxQueue}); retry after ${cfg.retryAfterS} s`);
      }
      admitted++;
      return render(req, key).finally(() => admitted--);
    }).promise;
  }

  const face = async (c: Context) => {
    const t0 = performance.now();
    requireAuth(c);
    const url = new URL(c.req.url);
    const req = parseFacePath(url.pathname.slice(ORIGIN_API_PREFIX.length), url.searchParams, {
      psi: m.truncation.default_psi,
      accept: c.req.header("accept"),
    });
    if (!req) throw new HttpError(404, "not_found", `no route for ${url.pathname}`);
    if (!model.networks[req.model]) {
      const why = model.missing?.[req.model];
      throw new HttpError(400, "bad_model", why
        ? `model ${m.id}@${m.version}: this origin has no ${req.model} network loaded (${why}); use model=student`
        : `model ${m.id}@${m.version} has no ${req.model} network; use model=student`);
    }
    checkAttributes(req.attributes, modelAttributes(m), `${m.id}@${m.version}`);
    const key = canonicalKey(req, m.id, m.version);
    const network = model.networks[req.model]!;
    // Same variant as the edge uses for origin-rendered faces, so both hand out one ETag per face.
    const etag = await faceEtag(key, `origin-${req.model}`);
    const label = modelLabel(m.id, m.version, req.model, network.precision);
    const served = { format: req.format, negotiated: req.negotiated };
    if (etagMatches(c.req.header("if-none-match"), etag)) {
      const h = imageHeaders({ etag, model: label, source: "origin", ...served });
      h.delete("content-type");
      return new Response(null, { status: 304, headers: h });
    }
    let png = lru.get(key);
    let timing = [{ name: "lru", dur: 0 }];
    if (!png) {
      try {
        ({ png, timing } = await renderOnce(req, key));
      } catch (e) {
        if (e instanceof RenderTimeoutError) throw busy("timeout", `render did not finish within ${cfg.timeoutMs} ms`);
        if (e instanceof QueueFullError) throw busy("overloaded", e.message);
        throw e;
      }
    }
    const total = performance.now() - t0;
    const headers = imageHeaders({ etag, model: label, source: "origin", ...served, timing: [...timing, { name: "total", dur: total }] });
    headers.set(HEADER_RENDER_MS, total.toFixed(1));
    headers.set("content-length", String(png.byteLength));
    return new Response(c.req.method === "HEAD" ? null : (png as Uint8Array<ArrayBuffer>), { status: 200, headers });
  };
  for (const prefix of [ORIGIN_FACE_PREFIX, ORIGIN_MORPH_PREFIX, `${ORIGIN_API_PREFIX}/avatar/`]) {
    app.on(["GET", "HEAD"], `${prefix}*`, face);
    app.all(`${prefix}*`, methodNotAllowed("GET, HEAD"));
  }

  return { app, state, lru };
}
