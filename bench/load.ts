// Load test (not part of npm test): `npm run loadtest [-- --duration 30 --connections 200 --scenarios edge,origin,origin-killed]`
// The built worker in real workerd (Miniflare) under autocannon: a realistic mix, 80% repeated seeds (cache hits
// after the first draw) and 20% new seeds, sizes 32/64/128. Scenarios:
//   edge           the worker alone (student faces drawn at the edge)
//   origin         plus a real origin process (`npm run origin`): ~10% model=teacher and ~5% size 256 go to it
//   origin-killed  as "origin", with the origin process killed (SIGKILL) half-way through
// Alongside autocannon, 4 validator clients fetch the same mix and decode every 200 body (pngjs; autocannon only
// hands bodies over as strings), each request on a new connection: with undici's keep-alive reuse, workerd's local
// server reset a few idle connections under this load (autocannon's own connections saw no errors). A monitor polls
// /healthz (worker alive, ORT wasm memory vs budget, no isolate restart) and workerd's output is searched for crashes. Pass criteria are printed at the end;
// results go to bench/results/load.json. Exit code 1 when a criterion fails.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { PNG } from "pngjs";
import { REPO } from "../harness/worker.js";
import { startHardenedWorker } from "../harness/hardened-worker.js";
import type { HardenedWorker } from "../harness/hardened-worker.js";
import { startOrigin, TOKEN } from "../harness/origin.js";
import type { OriginProcess } from "../harness/origin.js";
import { flags } from "../harness/flags.js";

const FLAGS = flags(["duration", "connections", "scenarios", "new-fraction", "pool"],
  "npm run loadtest [-- --duration 30 --connections 200 --scenarios edge,origin,origin-killed --new-fraction 0.2 --pool 60]");
const arg = (name: keyof typeof FLAGS, def: string): string => FLAGS[name] ?? def;
const DURATION = Number(arg("duration", "30"));
const CONNECTIONS = Number(arg("connections", "200"));
const SCENARIOS = arg("scenarios", "edge,origin,origin-killed").split(",");
const NEW_FRACTION = Number(arg("new-fraction", "0.2"));
const POOL_SIZE = Number(arg("pool", "60"));
const SIZES = [32, 64, 64, 128, 128, 128];

type Scenario = "edge" | "origin" | "origin-killed";

// Origin-bound traffic: model=teacher where the default model has a teacher; otherwise (ffhq) a size above the
// edge's edge_max_size, which the edge forwards to the origin.
const DEFAULT_MANIFEST = (() => {
  const id = (JSON.parse(readFileSync(join(REPO, "models/default.json"), "utf8")) as { default: string }).default;
  return JSON.parse(readFileSync(join(REPO, "models", id, "manifest.json"), "utf8")) as {
    networks: { teacher?: unknown; student: { serving?: { edge_max_size?: number } } };
  };
})();
const HAS_TEACHER = Boolean(DEFAULT_MANIFEST.networks.teacher);
const ORIGIN_SIZE = Math.min(1024, 2 * (DEFAULT_MANIFEST.networks.student.serving?.edge_max_size ?? 256));

/** Request mix: 80% from a pool of repeated seeds, 20% never seen before. */
function mixer(scenario: Scenario, tag: string) {
  let fresh = 0;
  const withOrigin = scenario !== "edge";
  return () => {
    const isNew = Math.random() < NEW_FRACTION;
    const seed = isNew ? `load-${tag}-new-${fresh++}` : `user-${Math.floor(Math.random() * POOL_SIZE)}@example.com`;
    let size = SIZES[Math.floor(Math.random() * SIZES.length)]!;
    let model = "student";
    const r = Math.random();
    if (withOrigin && r < 0.1) {
      if (HAS_TEACHER) model = "teacher";
      else size = ORIGIN_SIZE;
    }
    else if (withOrigin && r < 0.15) size = 256;
    return `/face/${encodeURIComponent(seed)}.png?size=${size}${model === "teacher" ? "&model=teacher" : ""}`;
  };
}

interface Health {
  ok: boolean;
  sessions_loaded: boolean;
  wasm_memory_bytes: number;
  wasm_memory_peak_bytes: number;
  wasm_budget_bytes: number;
  breakers: Record<string, string>;
}

/** Polls /healthz: detects a dead worker or a restarted isolate (peak memory going down, sessions unloaded). */
function monitor(url: string) {
  const samples: Health[] = [];
  let failures = 0;
  let restarts = 0;
  let stop = false;
  const errors: string[] = [];
  const t0 = Date.now();
  const done = (async () => {
    while (!stop) {
      try {
        const res = await getFresh(`${url}/healthz`);
        const h = JSON.parse(res.body.toString()) as Health;
        const prev = samples[samples.length - 1];
        if (prev && (h.wasm_memory_peak_bytes < prev.wasm_memory_peak_bytes || (prev.sessions_loaded && !h.sessions_loaded))) restarts++;
        samples.push(h);
        if (res.status !== 200) failures++;
      } catch (e) {
        failures++;
        errors.push(`${((Date.now() - t0) / 1000).toFixed(1)}s: ${String(e).slice(0, 80)} ${String((e as { cause?: unknown }).cause ?? "").slice(0, 80)}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return { samples: samples.length, failures, restarts, errors, last: samples[samples.length - 1] };
    },
  };
}

/** GET on a new connection (no keep-alive reuse), like a browser's first visit. */
function getFresh(url: string): Promise<{ status: number; headers: { get(n: string): string | null }; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (d: Buffer) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: { get: (n) => (res.headers[n] as string | undefined) ?? null }, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** Fetches the mix one request at a time and checks every answer fully (PNG decode and size, JSON errors). */
function validator(url: string, next: () => string) {
  let stop = false;
  const v = { checked: 0, pngs: 0, bad: [] as string[] };
  const done = (async () => {
    while (!stop) {
      const path = next();
      try {
        const res = await getFresh(url + path);
        const body = res.body;
        v.checked++;
        if (res.status === 200) {
          const png = PNG.sync.read(body);
          const size = Number(new URL(url + path).searchParams.get("size"));
          if (png.width !== size || png.height !== size) v.bad.push(`${path}: ${png.width}x${png.height}`);
          v.pngs++;
        } else if (res.status === 503) {
          if (!res.headers.get("retry-after")) v.bad.push(`${path}: 503 without Retry-After`);
          JSON.parse(body.toString()).error.code;
        } else v.bad.push(`${path}: HTTP ${res.status}`);
      } catch (e) {
        v.bad.push(`${path}: ${String(e).slice(0, 80)} ${String((e as { cause?: unknown }).cause ?? "").slice(0, 120)}`);
      }
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
      return v;
    },
  };
}

async function runScenario(scenario: Scenario) {
  let origin: OriginProcess | undefined;
  let w: HardenedWorker | undefined;
  try {
    if (scenario !== "edge") origin = await startOrigin(["--max-queue", "256"]);
    w = await startHardenedWorker({ vars: origin ? { ORIGIN_URL: origin.url, ORIGIN_TOKEN: TOKEN, ORIGIN_TIMEOUT_MS: "8000" } : {} });
    const url = w.url;
    // First face (ORT init) before the clock starts.
    await (await fetch(`${url}/face/warm-up.png?size=64`)).arrayBuffer();
    const next = mixer(scenario, `${scenario}-${Date.now()}`);
    const codes: Record<string, number> = {};
    const sources: Record<string, number> = {};
    const bad: string[] = [];
    const mon = monitor(url);
    const validators = Array.from({ length: 4 }, () => validator(url, next));
    let killedAt: number | null = null;
    const killer = scenario === "origin-killed"
      ? setTimeout(() => {
          killedAt = DURATION / 2;
          process.stderr.write(`  killing the origin (SIGKILL) at ${killedAt}s\n`);
          void origin!.stop("SIGKILL");
        }, (DURATION / 2) * 1000)
      : undefined;
    process.stderr.write(`${scenario}: ${CONNECTIONS} connections for ${DURATION}s against ${url}${origin ? ` (origin ${origin.url})` : ""}\n`);
    const reqErrors: string[] = [];
    const t0 = Date.now();
    const instance = autocannon({
      url,
      connections: CONNECTIONS,
      duration: DURATION,
      timeout: 30,
      requests: [
        {
          setupRequest: (req: Record<string, unknown>, ctx: Record<string, unknown>) => {
            ctx.path = next();
            return { ...req, method: "GET", path: ctx.path };
          },
          onResponse: (status: number, body: string, ctx: Record<string, unknown>, headers: Record<string, string>) => {
            codes[status] = (codes[status] ?? 0) + 1;
            const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
            if (status === 200) {
              const src = `${h["x-face-source"] ?? "?"}${h["x-face-degraded"] ? "+degraded" : ""}`;
              sources[src] = (sources[src] ?? 0) + 1;
              // autocannon hands the body over as a string: check the type, length and the ASCII part of the signature.
              if (h["content-type"] !== "image/png" || body.slice(1, 4) !== "PNG" || Number(h["content-length"]) < 60) {
                if (bad.length < 20) bad.push(`200 not a PNG (${h["content-type"]}, ${h["content-length"]} bytes)`);
              }
            } else if (status === 503) {
              if (!h["retry-after"] && bad.length < 20) bad.push("503 without Retry-After");
            } else if (bad.length < 20) bad.push(`HTTP ${status} for ${String(ctx.path)}: ${body.slice(0, 120)}`);
          },
        },
      ],
    });
    instance.on("reqError", (e: unknown) => {
      if (reqErrors.length < 10) reqErrors.push(`${((Date.now() - t0) / 1000).toFixed(1)}s: ${String(e).slice(0, 120)}`);
    });
    const result = await instance;
    if (killer) clearTimeout(killer);
    const health = await mon.stop();
    const crashes = w.logs().split("\n").filter((l) => /uncaught|internal error|exceeded|hung/i.test(l));
    if (process.env.LOAD_WORKER_LOG) writeFileSync(`${process.env.LOAD_WORKER_LOG}-${scenario}.log`, w.logs());
    const parts = await Promise.all(validators.map((v) => v.stop()));
    const checked = { checked: parts.reduce((n, p) => n + p.checked, 0), pngs: parts.reduce((n, p) => n + p.pngs, 0), bad: parts.flatMap((p) => p.bad) };
    const fivexx = Object.entries(codes).filter(([c]) => Number(c) >= 500 && c !== "503").reduce((n, [, v]) => n + v, 0);
    const last = health.last!;
    const criteria = {
      no_5xx_except_503_with_retry_after: fivexx === 0 && !bad.some((b) => b.startsWith("503")),
      only_200_or_503: Object.keys(codes).every((c) => c === "200" || c === "503"),
      no_connection_errors_or_timeouts: result.errors === 0 && result.timeouts === 0,
      no_crash_or_restart: health.failures === 0 && health.restarts === 0 && crashes.length === 0,
      wasm_memory_under_budget: last.wasm_memory_peak_bytes <= last.wasm_budget_bytes,
      every_200_is_a_png: bad.filter((b) => b.startsWith("200")).length === 0,
      validated_pngs_ok: checked.bad.length === 0 && checked.pngs > 0,
    };
    const row = {
      scenario,
      duration_s: DURATION,
      connections: CONNECTIONS,
      requests: result.requests.total,
      throughput_rps: result.requests.average,
      latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      status_codes: codes,
      sources,
      errors: result.errors,
      request_errors: reqErrors,
      timeouts: result.timeouts,
      origin_killed_at_s: killedAt,
      wasm_memory_peak_mb: +(last.wasm_memory_peak_bytes / 2 ** 20).toFixed(1),
      wasm_budget_mb: +(last.wasm_budget_bytes / 2 ** 20).toFixed(1),
      breakers_at_end: last.breakers,
      health: { samples: health.samples, failures: health.failures, restarts: health.restarts, errors: health.errors.slice(0, 5) },
      validator: { checked: checked.checked, pngs_decoded: checked.pngs, problems: checked.bad.slice(0, 10) },
      problems: [...bad, ...crashes.slice(0, 10)],
      criteria,
      pass: Object.values(criteria).every(Boolean),
    };
    return row;
  } finally {
    await w?.dispose();
    await origin?.stop();
  }
}

async function main() {
  const rows = [];
  for (const s of SCENARIOS) rows.push(await runScenario(s as Scenario));
  console.log(`\nLoad test: ${CONNECTIONS} connections, ${DURATION}s per scenario, ${Math.round((1 - NEW_FRACTION) * 100)}% repeated seeds (pool ${POOL_SIZE}), sizes ${[...new Set(SIZES)].join("/")}`);
  console.table(rows.map((r) => ({
    scenario: r.scenario,
    requests: r.requests,
    "req/s": +r.throughput_rps.toFixed(1),
    "p50 ms": r.latency_ms.p50,
    "p99 ms": r.latency_ms.p99,
    codes: Object.entries(r.status_codes).map(([c, n]) => `${c}:${n}`).join(" "),
    "wasm MB": `${r.wasm_memory_peak_mb}/${r.wasm_budget_mb}`,
    validated: `${r.validator.pngs_decoded}/${r.validator.checked}`,
    pass: r.pass ? "PASS" : "FAIL",
  })));
  for (const r of rows) {
    console.log(`\n${r.scenario}: sources ${JSON.stringify(r.sources)}${r.origin_killed_at_s !== null ? `, origin killed at ${r.origin_killed_at_s}s` : ""}`);
    for (const [k, v] of Object.entries(r.criteria)) console.log(`  ${v ? "PASS" : "FAIL"}  ${k}`);
    for (const p of [...r.problems, ...r.validator.problems].slice(0, 5)) console.log(`  problem: ${p}`);
  }
  const out = {
    bench: "load",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version, loadavg_at_end: loadavg() },
    model: JSON.parse(readFileSync(join(REPO, "models/default.json"), "utf8")).default,
    mix: { new_fraction: NEW_FRACTION, pool: POOL_SIZE, sizes: SIZES, origin_share: "10% model=teacher, 5% size=256 (origin scenarios)" },
    scenarios: rows,
    pass: rows.every((r) => r.pass),
  };
  mkdirSync(join(REPO, "bench/results"), { recursive: true });
  writeFileSync(join(REPO, "bench/results/load.json"), JSON.stringify(out, null, 2) + "\n");
  console.log(`\n${out.pass ? "PASS" : "FAIL"}: wrote bench/results/load.json`);
  process.exitCode = out.pass ? 0 : 1;
}

await main();
