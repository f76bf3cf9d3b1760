// Starts the built worker (dist/) in real workerd via Miniflare like harness/worker.ts, plus what the
// hardening tests need: workerd's stdout/stderr captured (to search logs for secrets), an R2 binding that throws
// on every call (R2 unavailable), and the Workers Rate Limiting binding MISS_LIMITER.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { connect } from "node:net";
import { Miniflare } from "miniflare";
import { DIST, distModules, REPO } from "./worker.js";

export interface HardenedOptions {
  vars?: Record<string, string>;
  /** "ok": an in-memory R2 bucket; "broken": a FACES binding whose every method throws. */
  r2?: "ok" | "broken";
  /** MISS_LIMITER with this many misses per client per 60 s. */
  missLimit?: number;
  /** Another build's dry-run output (e.g. harness/models.ts faces64Edge) instead of dist/. */
  distDir?: string;
  /** Its static assets directory (default: dist-assets/ when it exists; null for none). */
  assetsDir?: string | null;
}

export interface HardenedWorker {
  url: string;
  mf: Miniflare;
  /** Everything workerd printed so far (console.log/warn/error of the worker). */
  logs(): string;
  dispose(): Promise<void>;
}

const ASSETS_DIR = join(REPO, "dist-assets");

const BROKEN_R2 = `
const fail = async () => { throw new Error("R2 unavailable (injected)"); };
export default function () { return { get: fail, put: fail, head: fail, list: fail, delete: fail, createMultipartUpload: fail }; }
`;

function tomlVars(): Record<string, string> {
  const toml = readFileSync(join(REPO, "wrangler.toml"), "utf8");
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(toml)?.[1] ?? "";
  const vars: Record<string, string> = {};
  for (const m of section.matchAll(/^\s*([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)) vars[m[1]!] = m[2]!;
  return { ...vars, compat: /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-04-01" };
}

export async function startHardenedWorker(opts: HardenedOptions = {}): Promise<HardenedWorker> {
  const { compat, ...vars } = tomlVars();
  const dist = opts.distDir ?? DIST;
  const assetsDir = opts.assetsDir === undefined ? ASSETS_DIR : opts.assetsDir;
  let out = "";
  const collect = (s: Readable) => s.on("data", (d: Buffer) => (out += d.toString("utf8")));
  const main = {
    name: "seedface",
    modules: distModules(dist),
    modulesRoot: dist,
    compatibilityDate: compat,
    bindings: { ...vars, ...(opts.vars ?? {}) },
    ...(opts.r2 === "ok" ? { r2Buckets: ["FACES"] } : {}),
    ...(opts.r2 === "broken" ? { wrappedBindings: { FACES: { scriptName: "broken-r2" } } } : {}),
    ...(assetsDir && existsSync(assetsDir)
      ? { assets: { directory: assetsDir, binding: "ASSETS", routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true } } }
      : {}),
    ...(opts.missLimit ? { ratelimits: { MISS_LIMITER: { simple: { limit: opts.missLimit, period: 60 as const } } } } : {}),
  };
  const workers = opts.r2 === "broken"
    ? [main, { name: "broken-r2", modules: true, script: BROKEN_R2 }]
    : [main];
  const mf = new Miniflare({
    workers,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      collect(stdout);
      collect(stderr);
    },
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return { url, mf, logs: () => out, dispose: () => mf.dispose() };
}

/** GET (or other method) through real HTTP; the body as bytes. */
export async function hit(base: string, path: string, init: RequestInit = {}) {
  const res = await fetch(base + path, init);
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

export function jsonError(bytes: Uint8Array): { code: string; message: string } {
  return (JSON.parse(new TextDecoder().decode(bytes)) as { error: { code: string; message: string } }).error;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Sends bytes as they are over TCP (no URL normalisation by a client library: absolute-form targets, raw "..",
 * odd Host headers) and parses the HTTP/1.1 answer (Connection: close).
 */
export function rawRequest(base: string, head: string): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname, () => sock.end(head));
    const chunks: Buffer[] = [];
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", reject);
    sock.on("end", () => {
      const all = Buffer.concat(chunks);
      const sep = all.indexOf("\r\n\r\n");
      const lines = all.subarray(0, sep).toString("latin1").split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = all.subarray(sep + 4);
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        const parts: Buffer[] = [];
        let off = 0;
        for (;;) {
          const eol = body.indexOf("\r\n", off);
          const n = parseInt(body.subarray(off, eol).toString(), 16);
          if (!n) break;
          parts.push(body.subarray(eol + 2, eol + 2 + n));
          off = eol + 2 + n + 2;
        }
        body = Buffer.concat(parts);
      }
      resolve({ status: Number(lines[0]!.split(" ")[1]), headers, body });
    });
  });
}
