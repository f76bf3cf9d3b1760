// Worker bindings and vars (wrangler.toml [vars], secrets, bindings), parsed once per request into EdgeConfig.

/**
 * The worker's bindings as the code reads them: `Env` as `wrangler types` generates it (worker-configuration.d.ts,
 * `npm run types`: wrangler.toml's vars and bindings, the secret named in .dev.vars.example), each one optional (an
 * unset or empty var means its default, docs/edge.md), plus what wrangler.toml does not set by default: the other
 * vars and the two optional bindings (the R2 second cache tier, the cache-miss rate limiter).
 */
export type EdgeEnv = Partial<Cloudflare.Env> & {
  /** Comma-separated origin base URLs (pick by seed hash, fail over in order). Empty: no origin. */
  ORIGIN_URL?: string;
  /** Circuit breaker: consecutive failures that open it, and the cool-down before a half-open probe. */
  ORIGIN_BREAKER_FAILURES?: string;
  ORIGIN_BREAKER_COOLDOWN_MS?: string;
  /** Seconds the edge keeps a degraded face in its cache (default 60, at most 60; 0: not at all). */
  DEGRADED_CACHE_TTL_S?: string;
  /** Default size when the URL has none (default 128). */
  DEFAULT_SIZE?: string;
  /** Optional R2 bucket: persistent second cache tier. */
  FACES?: R2Bucket;
  /** Optional Workers Rate Limiting binding: limits cache misses per client (issue 8). */
  MISS_LIMITER?: RateLimit;
};

export interface EdgeConfig {
  origins: string[];
  originToken: string | undefined;
  originTimeoutMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  wasmBudgetBytes: number;
  degradedCacheTtlS: number;
  defaultSize: number | undefined;
}

function num(v: string | undefined, fallback: number, min: number, max: number): number {
  const n = v === undefined || v.trim() === "" ? NaN : Number(v);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

/** Origin URLs from config: http(s) only, trailing slashes removed; anything else is ignored. */
export function parseOrigins(v: string | undefined): string[] {
  if (!v) return [];
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => {
      try {
        const u = new URL(s);
        return u.protocol === "http:" || u.protocol === "https:";
      } catch {
        return false;
      }
    })
    .map((s) => s.replace(/\/+$/, ""));
}

export function edgeConfig(env: EdgeEnv): EdgeConfig {
  return {
    origins: parseOrigins(env.ORIGIN_URL),
    originToken: env.ORIGIN_TOKEN || undefined,
    originTimeoutMs: num(env.ORIGIN_TIMEOUT_MS, 8000, 50, 60_000),
    breakerFailures: num(env.ORIGIN_BREAKER_FAILURES, 5, 1, 1000),
    breakerCooldownMs: num(env.ORIGIN_BREAKER_COOLDOWN_MS, 30_000, 0, 3_600_000),
    wasmBudgetBytes: num(env.EDGE_WASM_BUDGET_MB, 100, 1, 4096) * 1024 * 1024,
    degradedCacheTtlS: Math.round(num(env.DEGRADED_CACHE_TTL_S, 60, 0, 60)),
    defaultSize: env.DEFAULT_SIZE ? num(env.DEFAULT_SIZE, 128, 16, 1024) : undefined,
  };
}
