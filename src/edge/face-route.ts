// GET/HEAD faces: /face/<seed>[.ext], /morph/<a>/<b>[.ext], /avatar/<hash>[.ext], each also under the versioned
// prefix /v/<model>@<version>. Validate, answer 304 / cache hits without touching ORT, otherwise draw (edge or
// origin, per the memory guard), coalescing identical concurrent requests, and encode the requested format.
// Versioned URLs are immutable; unversioned ones get a short max-age with revalidation (shared/http.ts).
import type { Context } from "hono";
import { HEADER_MODEL, HEADER_SOURCE } from "../shared/contract.js";
import type { FaceSource } from "../shared/contract.js";
import { HttpError } from "../shared/errors.js";
import { checkAttributes, hasAttributes, modelAttributes } from "../shared/attributes.js";
import { finishPixels, renderPlanar } from "../shared/face.js";
import { encodeImage } from "../shared/codecs.js";
import type { Format } from "../shared/formats.js";
import { CACHE_DEGRADED, CACHE_IMMUTABLE, CACHE_UNVERSIONED, etagMatches, faceEtag, imageHeaders } from "../shared/http.js";
import type { TimingEntry } from "../shared/http.js";
import type { FaceRequest } from "../shared/params.js";
import { canonicalKey, canonicalPath, parseFacePath } from "../shared/params.js";
import { decodePngRgb } from "../shared/png-decode.js";
import { installEdgeCodecs } from "./codec-wasm.js";
import { Coalescer } from "../shared/coalesce.js";
import type { EdgeConfig, EdgeEnv } from "./config.js";
import { edgeConfig } from "./config.js";
import type { EarlierVersion } from "../shared/manifest.js";
import type { EdgeModel } from "./edge-model.js";
import { getCachedFace, putCachedFace } from "./face-cache.js";
import { guardState, requireModel } from "./isolate.js";
import type { EdgeDraw } from "./memory-guard.js";
import { planRender } from "./memory-guard.js";
import { fetchFromOrigin } from "./origin-client.js";
import { wasmMemoryBytes } from "./ort-runtime.js";

interface Rendered {
  bytes: Uint8Array;
  etag: string;
  model: string;
  source: Exclude<FaceSource, "cache">;
  degraded?: string;
  upscaled?: string;
  timing: TimingEntry[];
}

const coalescer = new Coalescer<Rendered>();

function edgeVariant(model: EdgeModel, draw: EdgeDraw): string {
  if (draw.degraded) return `degraded-${draw.levelSize}-${model.variant}`;
  return draw.upscaled ? `edge-${model.variant}-from${draw.levelSize}` : `edge-${model.variant}`;
}

async function drawAtEdge(model: EdgeModel, req: FaceRequest, key: string, draw: EdgeDraw, env: EdgeEnv, cfg: EdgeConfig): Promise<Rendered> {
  const load = await model.ensure(draw.output, env.ASSETS, cfg.wasmBudgetBytes);
  const t1 = performance.now();
  // The edge only has the student; a degraded stand-in for a teacher face is the student's face.
  const drawReq: FaceRequest = req.model === "student" ? req : { ...req, model: "student" };
  const planar = await renderPlanar(model, model.manifest, drawReq, { output: draw.output });
  const t2 = performance.now();
  const pixels = finishPixels(planar, req.size);
  const format = req.format ?? "png";
  const bytes = await encodeImage(format, pixels, req.size, req.size);
  const t3 = performance.now();
  model.drawn.add(draw.levelSize);
  wasmMemoryBytes(); // records the peak
  model.trim();
  const timing: TimingEntry[] = [
    ...(load.fetchMs !== undefined ? [{ name: "fetch", dur: load.fetchMs, desc: "weights from static assets" }] : []),
    ...(load.sessionMs !== undefined ? [{ name: "load", dur: load.sessionMs, desc: `ORT sessions (${draw.output})` }] : []),
    { name: "infer", dur: t2 - t1, desc: `${draw.output}` },
    { name: "encode", dur: t3 - t2, desc: format },
  ];
  const etag = await faceEtag(key, edgeVariant(model, draw));
  return {
    bytes, etag, model: model.label, source: "edge", timing,
    ...(draw.degraded ? { degraded: draw.degraded } : {}),
    ...(draw.upscaled ? { upscaled: draw.upscaled } : {}),
  };
}

/** The origin always sends PNG (validated); other formats are encoded here with the origin's own codec and options. */
async function fromOrigin(req: FaceRequest, png: Uint8Array, timing: TimingEntry[]): Promise<{ bytes: Uint8Array; timing: TimingEntry[] }> {
  const format: Format = req.format ?? "png";
  if (format === "png") return { bytes: png, timing };
  const t0 = performance.now();
  const { width, height, rgb } = await decodePngRgb(png);
  const bytes = await encodeImage(format, rgb, width, height);
  return { bytes, timing: [...timing, { name: "encode", dur: performance.now() - t0, desc: format }] };
}

function isModelUnavailable(e: unknown): e is HttpError {
  return e instanceof HttpError && e.code === "model_unavailable";
}

async function produce(model: EdgeModel, req: FaceRequest, key: string, env: EdgeEnv, cfg: EdgeConfig, requestId: string): Promise<Rendered> {
  const plan = planRender(model.manifest, req, guardState(model, cfg), cfg.origins.length > 0);
  if (plan.where === "none") throw new HttpError(503, "unavailable", plan.reason, { "retry-after": "60" });
  if (plan.where === "edge") {
    try {
      return await drawAtEdge(model, req, key, plan.draw, env, cfg);
    } catch (e) {
      // The edge's weights are unavailable (asset fetch or check failed): the origin, when there is one, draws it.
      if (!isModelUnavailable(e) || cfg.origins.length === 0) throw e;
      const res = await fetchFromOrigin(req, cfg, requestId);
      if (!res.ok) throw res.clientError ?? e;
      const etag = await faceEtag(key, `origin-${req.model}`);
      return { ...(await fromOrigin(req, res.bytes, [{ name: "origin", dur: res.ms }])), etag, model: res.model, source: "origin" };
    }
  }
  const t0 = performance.now();
  const res = await fetchFromOrigin(req, cfg, requestId);
  if (res.ok) {
    const etag = await faceEtag(key, `origin-${req.model}`);
    return { ...(await fromOrigin(req, res.bytes, [{ name: "origin", dur: performance.now() - t0 }])), etag, model: res.model, source: "origin" };
  }
  if (res.clientError) throw res.clientError;
  // Logs carry the request id (also sent to the origin), never the seed: seeds are often e-mail addresses.
  console.warn(`origin failed (request ${requestId}): ${res.reasons.join("; ")}`);
  if (plan.fallback) return drawAtEdge(model, req, key, plan.fallback, env, cfg);
  throw new HttpError(503, "origin_unavailable", "the origin that renders this face is unavailable; try again shortly", { "retry-after": "30" });
}

/** The ETag a fresh render would carry, when it can be known without rendering (edge renders within budget). */
async function expectedEtag(model: EdgeModel, req: FaceRequest, key: string, cfg: EdgeConfig): Promise<string | null> {
  const plan = planRender(model.manifest, req, guardState(model, cfg), cfg.origins.length > 0);
  if (plan.where === "edge" && !plan.draw.degraded) return faceEtag(key, edgeVariant(model, plan.draw));
  if (plan.where === "origin") return faceEtag(key, `origin-${req.model}`);
  return null;
}

interface Served {
  cacheControl: string;
  negotiated: boolean;
  canonical?: string;
}

function notModified(etag: string, model: string, source: FaceSource, served: Served, degraded?: string): Response {
  const headers: Record<string, string> = {
    etag,
    "cache-control": degraded ? CACHE_DEGRADED : served.cacheControl,
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
    "timing-allow-origin": "*",
    [HEADER_MODEL]: model,
    [HEADER_SOURCE]: source,
  };
  if (served.negotiated) headers.vary = "Accept";
  if (served.canonical) headers.link = `<${served.canonical}>; rel="canonical"`;
  return new Response(null, { status: 304, headers });
}

function imageResponse(method: string, bytes: Uint8Array, headers: Headers): Response {
  headers.set("content-length", String(bytes.length));
  return new Response(method === "HEAD" ? null : (bytes as Uint8Array<ArrayBuffer>), { status: 200, headers });
}

/**
 * A request that joined another request's render waits with a timer of its own. Under load (origin renders, 200
 * connections) workerd canceled a few joiners that waited only on another request's promise as hung (500 "code had
 * hung", with its warning about cross-request promise resolution). With a timer of its own pending the joiner is
 * never judged hung, and if the shared render does not arrive in time it draws the face itself.
 */
async function joinShared(shared: Promise<Rendered>, waitMs: number, drawOwn: () => Promise<Rendered>): Promise<Rendered> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), waitMs)));
  try {
    return (await Promise.race([shared, expired])) ?? (await drawOwn());
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

async function limitMiss(env: EdgeEnv, req: Request): Promise<void> {
  if (!env.MISS_LIMITER) return; // rate limiting is off unless the binding is configured (issue 8)
  const who = req.headers.get("cf-connecting-ip") ?? "anonymous";
  const { success } = await env.MISS_LIMITER.limit({ key: who });
  if (!success) {
    throw new HttpError(429, "rate_limited", "too many new faces from this client; cached faces are not limited", { "retry-after": "60" });
  }
}

const VERSIONED = /^\/v\/([^/]*)/;

/**
 * Split a request path into the face path and whether it was versioned (/v/<model>@<version>/...). The version
 * must be the model this edge serves, or an earlier version the manifest lists in `earlier_versions` (a version
 * whose faces without attribute options are the same bytes: see `checkEarlier`); anything else is a clear 404
 * (never another model's face).
 */
export function resolveVersion(pathname: string, model: EdgeModel): { path: string; versioned: boolean; earlier?: EarlierVersion } {
  const m = VERSIONED.exec(pathname);
  if (!m) return { path: pathname, versioned: false };
  const serving = `${model.manifest.id}@${model.manifest.version}`;
  let spec: string;
  try {
    spec = decodeURIComponent(m[1]!);
  } catch {
    spec = m[1]!;
  }
  const at = spec.lastIndexOf("@");
  if (at <= 0 || at === spec.length - 1) {
    throw new HttpError(400, "bad_version", `a versioned URL is /v/<model>@<version>/face/<seed>.<ext>, e.g. /v/${serving}/face/alice.webp (got ${JSON.stringify(spec.slice(0, 80))})`);
  }
  const id = spec.slice(0, at), version = spec.slice(at + 1);
  if (id !== model.manifest.id) {
    throw new HttpError(404, "unknown_model", `this edge serves model ${serving}; there is no model ${JSON.stringify(id.slice(0, 80))} (see /v1/models)`);
  }
  const path = pathname.slice("/v/".length + m[1]!.length);
  if (version === model.manifest.version) return { path, versioned: true };
  const earlier = (model.manifest.earlier_versions ?? []).find((e) => e.version === version);
  if (earlier) return { path, versioned: true, earlier };
  throw new HttpError(404, "unknown_version", `this edge serves ${serving}; version ${JSON.stringify(version.slice(0, 40))} of ${id} is not served (see /v1/models)`);
}

/**
 * A request under an earlier version: its faces without attribute options are this version's (same bytes), so
 * they are served; with options they would differ from what that URL once gave, so they are gone (410, never a
 * changed immutable face).
 */
function checkEarlier(earlier: EarlierVersion | undefined, req: FaceRequest, model: EdgeModel): void {
  if (!earlier || !hasAttributes(req.attributes)) return;
  const serving = `${model.manifest.id}@${model.manifest.version}`;
  throw new HttpError(410, "retired_version", `${model.manifest.id}@${earlier.version} is served only for faces without attribute options (${earlier.changed}); the same options draw under /v/${serving}/`);
}

/** The versioned URL of a request (what <seed-face> and the URL helper produce). */
export function versionedUrl(origin: string, req: FaceRequest, model: EdgeModel): string {
  const path = canonicalPath(req);
  return `${origin}/v/${encodeURIComponent(model.manifest.id)}@${encodeURIComponent(model.manifest.version)}${path}`;
}

export async function handleFace(c: Context<{ Bindings: EdgeEnv }>): Promise<Response> {
  const t0 = performance.now();
  const env = c.env ?? {};
  const cfg = edgeConfig(env);
  const model = requireModel();
  installEdgeCodecs();
  const url = new URL(c.req.url);
  const { path, versioned, earlier } = resolveVersion(url.pathname, model);
  const req = parseFacePath(path, url.searchParams, {
    size: cfg.defaultSize,
    psi: model.manifest.truncation.default_psi,
    accept: c.req.header("accept"),
  });
  if (!req) throw new HttpError(404, "not_found", "faces are at /face/<seed>.<png|webp|jpg|avif>, /morph/<a>/<b>.<ext>, /avatar/<hash> (and under /v/<model>@<version>/)");
  const served: Served = {
    cacheControl: versioned ? CACHE_IMMUTABLE : CACHE_UNVERSIONED,
    negotiated: req.negotiated === true,
    ...(versioned ? {} : { canonical: versionedUrl(url.origin, req, model) }),
  };
  if (req.model === "teacher" && !model.manifest.networks.teacher) {
    throw new HttpError(400, "bad_model", `model ${model.manifest.id}@${model.manifest.version} has no teacher network (only its student was imported); allowed here: student (see /v1/models)`);
  }
  if (req.model === "teacher" && cfg.origins.length === 0) {
    throw new HttpError(400, "bad_model", "model=teacher is drawn by the origin and this edge has no origin configured; allowed here: student (see /v1/models)");
  }
  checkAttributes(req.attributes, modelAttributes(model.manifest), `${model.manifest.id}@${model.manifest.version}`);
  checkEarlier(earlier, req, model);
  const key = canonicalKey(req, model.manifest.id, model.manifest.version);
  const ifNoneMatch = c.req.header("if-none-match");

  if (ifNoneMatch) {
    const etag = await expectedEtag(model, req, key, cfg);
    if (etag && etagMatches(ifNoneMatch, etag)) return notModified(etag, model.label, "cache", served);
  }

  const format: Format = req.format ?? "png";
  const cached = await getCachedFace(key, format, env.FACES);
  if (cached) {
    if (etagMatches(ifNoneMatch, cached.etag)) return notModified(cached.etag, cached.model, "cache", served, cached.degraded);
    const headers = imageHeaders({
      format,
      ...served,
      etag: cached.etag,
      model: cached.model,
      source: "cache",
      degraded: cached.degraded,
      upscaled: cached.upscaled,
      timing: [{ name: cached.tier, dur: performance.now() - t0 }],
    });
    return imageResponse(c.req.method, cached.bytes, headers);
  }

  await limitMiss(env, c.req.raw);
  const store = async (r: Rendered) => {
    if (r.degraded && cfg.degradedCacheTtlS === 0) return;
    const cacheControl = r.degraded ? `public, max-age=${cfg.degradedCacheTtlS}` : CACHE_IMMUTABLE;
    await putCachedFace(key, format, { bytes: r.bytes, etag: r.etag, model: r.model, degraded: r.degraded, upscaled: r.upscaled }, cacheControl, env.FACES)
      .catch((e) => console.warn(`cache put failed: ${e}`));
  };
  let stored: Promise<unknown> | undefined;
  const draw = () => produce(model, req, key, env, cfg, crypto.randomUUID());
  const { promise, shared } = coalescer.run(key, draw, (r) => (stored = store(r)));
  const r = shared ? await joinShared(promise, 2 * cfg.originTimeoutMs + 5000, draw) : await promise;
  if (!shared && stored) {
    try {
      c.executionCtx.waitUntil(stored);
    } catch {
      await stored; // no execution context (e.g. app.request in unit tests)
    }
  }
  if (etagMatches(ifNoneMatch, r.etag)) return notModified(r.etag, r.model, r.source, served, r.degraded);
  const headers = imageHeaders({
    format,
    ...served,
    etag: r.etag,
    model: r.model,
    source: r.source,
    degraded: r.degraded,
    upscaled: r.upscaled,
    timing: [...r.timing, ...(shared ? [{ name: "coalesced", dur: 0 }] : []), { name: "total", dur: performance.now() - t0 }],
  });
  return imageResponse(c.req.method, r.bytes, headers);
}
