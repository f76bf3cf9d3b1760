// Client for the GPU origin (contract: src/shared/contract.ts). Origins come from config only (ORIGIN_URL), never
// from the request. The first origin is picked by seed hash (so each origin's cache stays warm), then fail over in
// order; per origin one retry on a network error, a timeout, and a circuit breaker.
import { bearer } from "../shared/bearer.js";
import { HEADER_MODEL, HEADER_REQUEST_ID, originUrl } from "../shared/contract.js";
import { HttpError, isErrorBody } from "../shared/errors.js";
import type { FaceRequest } from "../shared/params.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { EdgeConfig } from "./config.js";
import { originPngProblem } from "./origin-png.js";

export type OriginResult =
  | { ok: true; bytes: Uint8Array; model: string; origin: string; ms: number }
  | { ok: false; clientError?: HttpError; reasons: string[] };

const breakers = new Map<string, CircuitBreaker>();

function breaker(origin: string, cfg: EdgeConfig): CircuitBreaker {
  let b = breakers.get(origin);
  if (!b) breakers.set(origin, (b = new CircuitBreaker(cfg.breakerFailures, cfg.breakerCooldownMs)));
  return b;
}

export function breakerStates(): Record<string, string> {
  return Object.fromEntries([...breakers].map(([o, b]) => [o, b.state]));
}

async function seedHash(req: FaceRequest): Promise<number> {
  const seed = req.kind === "morph" ? req.seedA : req.seed;
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(seed));
  return new DataView(d).getUint32(0);
}

/** Origins in the order to try: seed-hash pick first, then the rest in config order. */
export async function originOrder(req: FaceRequest, origins: string[]): Promise<string[]> {
  if (origins.length <= 1) return origins;
  const first = (await seedHash(req)) % origins.length;
  return [...origins.slice(first), ...origins.slice(0, first)];
}

type Attempt = { kind: "ok"; res: Response } | { kind: "network"; why: string } | { kind: "timeout" };

async function attempt(url: string, cfg: EdgeConfig, requestId: string): Promise<Attempt> {
  const headers: Record<string, string> = { accept: "image/png", [HEADER_REQUEST_ID]: requestId };
  if (cfg.originToken) headers.authorization = bearer(cfg.originToken);
  try {
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(cfg.originTimeoutMs) });
    return { kind: "ok", res };
  } catch (e) {
    const name = (e as Error)?.name;
    if (name === "TimeoutError" || name === "AbortError") return { kind: "timeout" };
    return { kind: "network", why: String((e as Error)?.message ?? e) };
  }
}

/** Fetch a face from the configured origins. */
export async function fetchFromOrigin(req: FaceRequest, cfg: EdgeConfig, requestId: string): Promise<OriginResult> {
  const reasons: string[] = [];
  for (const origin of await originOrder(req, cfg.origins)) {
    const b = breaker(origin, cfg);
    if (!b.allow()) {
      reasons.push(`${origin}: circuit open`);
      continue;
    }
    const url = originUrl(origin, req);
    const t0 = Date.now();
    let a = await attempt(url, cfg, requestId);
    if (a.kind === "network") a = await attempt(url, cfg, requestId); // one retry on network failure
    if (a.kind !== "ok") {
      b.failure();
      reasons.push(`${origin}: ${a.kind === "timeout" ? `timeout after ${cfg.originTimeoutMs} ms` : a.why}`);
      continue;
    }
    const res = a.res;
    if (res.status === 200) {
      // The body can still fail (origin died mid-response, timeout); a bad PNG is an origin failure, never served.
      const body = await res.arrayBuffer().then((a) => new Uint8Array(a), (e: unknown) => new Error(String((e as Error)?.message ?? e)));
      const problem = body instanceof Error ? `body cut off: ${body.message}` : await originPngProblem(body, req.size);
      if (!problem && !(body instanceof Error)) {
        b.success();
        return { ok: true, bytes: body, model: res.headers.get(HEADER_MODEL) ?? "origin", origin, ms: Date.now() - t0 };
      }
      b.failure();
      reasons.push(`${origin}: 200 with a bad body (${problem})`);
      continue;
    }
    const body: unknown = await res.json().catch(() => null);
    if (res.status >= 400 && res.status < 500 && res.status !== 401 && res.status !== 403 && res.status !== 429) {
      // The origin judged the request itself: a final answer, not an outage.
      b.success();
      const e = isErrorBody(body) ? body.error : { code: "origin_rejected", message: `origin answered ${res.status}` };
      return { ok: false, clientError: new HttpError(res.status, e.code, e.message), reasons };
    }
    b.failure();
    reasons.push(`${origin}: HTTP ${res.status}${isErrorBody(body) ? ` ${body.error.code}` : ""}`);
  }
  return { ok: false, reasons };
}
