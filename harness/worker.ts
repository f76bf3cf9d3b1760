// Process harness for the tests and the benchmarks: run the built worker (`npm run build` -> dist/, the `wrangler
// deploy --dry-run` output) in real workerd via Miniflare, on a random local port, with the given vars and optional
// bindings. Returns its URL.
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";

export const REPO = resolve(import.meta.dirname, "..");
export const DIST = join(REPO, "dist");

export interface WorkerOptions {
  /** Vars/secrets (strings) merged over wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  /** Bind an (in-memory) R2 bucket as FACES. */
  r2?: boolean;
  /** Bind MISS_LIMITER with this simple limit per 60 s. */
  missLimit?: number;
  /** Static assets directory bound as ASSETS (default: dist-assets/ when it exists). */
  assetsDir?: string | null;
  distDir?: string;
}

export interface WorkerHandle {
  url: string;
  mf: Miniflare;
  dispose(): Promise<void>;
}

function wranglerToml(): string {
  return readFileSync(join(REPO, "wrangler.toml"), "utf8");
}

function tomlVars(toml: string): Record<string, string> {
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? "";
  const vars: Record<string, string> = {};
  for (const m of section.matchAll(/^\s*([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)) vars[m[1]!] = m[2]!;
  return vars;
}

function compatibilityDate(toml: string): string {
  return /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-04-01";
}

/** Modules of the dry-run bundle with their types (the wrangler rules: .wasm compiled, .onnx data). */
export function distModules(dist = DIST) {
  if (!existsSync(join(dist, "index.js"))) throw new Error(`${dist}/index.js missing: run \`npm run build\` first`);
  const modules: { type: "ESModule" | "CompiledWasm" | "Data"; path: string }[] = [{ type: "ESModule", path: join(dist, "index.js") }];
  for (const f of readdirSync(dist)) {
    if (f.endsWith(".wasm")) modules.push({ type: "CompiledWasm", path: join(dist, f) });
    else if (f.endsWith(".onnx")) modules.push({ type: "Data", path: join(dist, f) });
  }
  return modules;
}

export async function startWorker(opts: WorkerOptions = {}): Promise<WorkerHandle> {
  const toml = wranglerToml();
  const dist = opts.distDir ?? DIST;
  const assetsDir = opts.assetsDir === undefined ? join(REPO, "dist-assets") : opts.assetsDir;
  const mf = new Miniflare({
    modules: distModules(dist),
    modulesRoot: dist,
    compatibilityDate: compatibilityDate(toml),
    bindings: { ...tomlVars(toml), ...(opts.vars ?? {}) },
    ...(opts.r2 ? { r2Buckets: ["FACES"] } : {}),
    ...(opts.missLimit ? { ratelimits: { MISS_LIMITER: { simple: { limit: opts.missLimit, period: 60 } } } } : {}),
    ...(assetsDir && existsSync(assetsDir)
      ? { assets: { directory: assetsDir, binding: "ASSETS", routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true } } }
      : {}),
    host: "127.0.0.1",
    port: 0,
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, mf, dispose: () => mf.dispose() };
}

/**
 * fetch for idempotent requests (GET/HEAD) that retries once when the server closed a reused keep-alive connection
 * before answering ("other side closed"), as browsers do (RFC 9112 9.3.1). workerd under Miniflare sometimes closes
 * an idle keep-alive connection just as the client reuses it: the isolate stays up (its /healthz and state are
 * intact); seen on the base commit too (a fresh worker, the third face request: 4 of 6 runs).
 */
export async function fetchIdempotent(url: string, init?: RequestInit, opts: { anyMethod?: boolean } = {}): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const code = (e as { cause?: { code?: string } })?.cause?.code;
    const method = (init?.method ?? "GET").toUpperCase();
    // anyMethod: for tests whose requests have no side effects whatever the method (the worker answers 405).
    if (code !== "UND_ERR_SOCKET" || (!opts.anyMethod && method !== "GET" && method !== "HEAD")) throw e;
    return fetch(url, init);
  }
}

/** Run a command, resolving with its combined output (rejecting with its tail on a non-zero exit). */
export function sh(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<string> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    p.stdout.on("data", (d) => (log += d));
    p.stderr.on("data", (d) => (log += d));
    p.on("error", fail);
    p.on("close", (code) => (code === 0 ? ok(log) : fail(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${log.slice(-4000)}`))));
  });
}

/**
 * Build the worker as `npm run build` does (`wrangler deploy --dry-run`, whose [build] step generates the model
 * module) for another models directory, in a copy of the worker's sources under `dir`: the repository's
 * src/edge/bundled-model.generated.ts, dist/ and dist-assets/ keep naming the default model for the other suites.
 * `env` reaches the build step (e.g. SEEDFACE_EDGE_WEIGHTS). Returns the dry-run output folder, the copy's static
 * assets folder (where the build put any asset-served weights) and the build log.
 */
export async function buildWorker(dir: string, modelsDir: string, env: Record<string, string> = {}): Promise<{ dist: string; assets: string; log: string }> {
  mkdirSync(dir, { recursive: true });
  for (const f of ["src", "scripts", "wasm", "wrangler.toml", "package.json", "tsconfig.json", "tsconfig.base.json"]) cpSync(join(REPO, f), join(dir, f), { recursive: true });
  rmSync(join(dir, "src/edge/bundled-model.generated.ts"), { force: true });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "dist-assets"), { recursive: true });
  const log = await sh(join(dir, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", join(dir, "dist")], {
    cwd: dir,
    env: { SEEDFACE_MODELS_DIR: modelsDir, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", ...env },
  });
  return { dist: join(dir, "dist"), assets: join(dir, "dist-assets"), log };
}
