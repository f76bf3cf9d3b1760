// Edge benchmark (not a test): latency through HTTP into the built worker running in workerd (Miniflare).
// For each size: cold (first face of a fresh worker: ORT init + sessions + draw), warm (cache miss, sessions
// loaded), cache hit; ORT wasm memory after each size; bundle size of the `wrangler deploy --dry-run` output.
// Usage: npm run bench:edge   (builds first). Writes bench/results/edge.json.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DIST, REPO, startWorker } from "../harness/worker.js";
import { parseFlags } from "../harness/flags.js";

parseFlags({ usage: "npm run bench:edge   (no flags; BENCH_SIZES, BENCH_COLD_RUNS, BENCH_WARM_RUNS, BENCH_HIT_RUNS in the environment)" });

const SIZES = (process.env.BENCH_SIZES ?? "16,32,64,96,128,256").split(",").map(Number);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 3);
const WARM_RUNS = Number(process.env.BENCH_WARM_RUNS ?? 25);
const HIT_RUNS = Number(process.env.BENCH_HIT_RUNS ?? 50);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function timed(url: string): Promise<{ ms: number; res: Response }> {
  const t = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: performance.now() - t, res };
}

function inferMs(res: Response): number {
  return Number(/infer;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1] ?? NaN);
}

function bundleSize() {
  let raw = 0, gz = 0;
  const files: { file: string; bytes: number; gzip: number }[] = [];
  for (const f of readdirSync(DIST)) {
    if (f.endsWith(".map") || f === "README.md") continue;
    const b = readFileSync(join(DIST, f));
    const g = gzipSync(b, { level: 9 }).length;
    raw += b.length;
    gz += g;
    files.push({ file: f, bytes: b.length, gzip: g });
  }
  return { raw_bytes: raw, gzip_bytes: gz, files };
}

async function main() {
  const rows: Record<string, number | string>[] = [];
  // Cold: the first face of a fresh worker, per size.
  const cold: Record<number, number[]> = {};
  const firstFace: number[] = [];
  for (let run = 0; run < COLD_RUNS; run++) {
    for (const size of SIZES) {
      const t0 = performance.now();
      const w = await startWorker();
      const { ms } = await timed(`${w.url}/face/cold-${run}-${size}.png?size=${size}`);
      (cold[size] ??= []).push(ms);
      firstFace.push(performance.now() - t0);
      await w.dispose();
    }
    process.stdout.write(`cold run ${run + 1}/${COLD_RUNS} done\n`);
  }
  // Warm misses and cache hits in one worker, sizes ascending (ORT's memory only grows).
  const w = await startWorker();
  const memAfter: Record<number, number> = {};
  try {
    for (let i = 0; i < 8; i++) await timed(`${w.url}/face/warmup-${i}.png?size=${SIZES[i % SIZES.length]}`); // JIT warm-up
    for (const size of SIZES) {
      const warm: number[] = [], infer: number[] = [], hit: number[] = [];
      for (let i = 0; i < WARM_RUNS; i++) {
        const r = await timed(`${w.url}/face/warm-${size}-${i}.png?size=${size}`);
        warm.push(r.ms);
        infer.push(inferMs(r.res));
      }
      for (let i = 0; i < HIT_RUNS; i++) hit.push((await timed(`${w.url}/face/warm-${size}-${i % WARM_RUNS}.png?size=${size}`)).ms);
      const health = (await (await fetch(`${w.url}/healthz`)).json()) as { wasm_memory_bytes: number };
      memAfter[size] = health.wasm_memory_bytes;
      rows.push({
        size,
        cold_p50_ms: pct(cold[size] ?? [NaN], 50),
        cold_p95_ms: pct(cold[size] ?? [NaN], 95),
        warm_p50_ms: pct(warm, 50),
        warm_p95_ms: pct(warm, 95),
        infer_p50_ms: pct(infer, 50),
        cache_hit_p50_ms: pct(hit, 50),
        cache_hit_p95_ms: pct(hit, 95),
        wasm_memory_mb: +(memAfter[size]! / 2 ** 20).toFixed(1),
      });
      process.stdout.write(`size ${size} done\n`);
    }
  } finally {
    await w.dispose();
  }
  const models = JSON.parse(readFileSync(join(REPO, "models/default.json"), "utf8"));
  const bundle = bundleSize();
  const result = {
    when: new Date().toISOString(),
    machine: "2 shared CPU cores, single-threaded ORT-web (wasm SIMD) in workerd via Miniflare; latency measured by the client",
    model: models.default,
    runs: { cold: COLD_RUNS, warm: WARM_RUNS, cache_hit: HIT_RUNS },
    first_face_after_start_ms: { p50: pct(firstFace, 50), p95: pct(firstFace, 95), note: "worker start (Miniflare) + ORT init + sessions + draw" },
    sizes: rows,
    wasm_memory_peak_mb: Math.max(...Object.values(memAfter)) / 2 ** 20,
    // ORT runs the whole graph whatever output is fetched when this ratio is ~1 (it would be << 1 if it pruned).
    infer_ratio_smallest_vs_native: +((rows[0]!.infer_p50_ms as number) / (rows.find((r) => r.size === 128)?.infer_p50_ms as number ?? NaN)).toFixed(2),
    bundle: { raw_mb: +(bundle.raw_bytes / 2 ** 20).toFixed(2), gzip_mb: +(bundle.gzip_bytes / 2 ** 20).toFixed(2), files: bundle.files },
  };
  console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "number" ? +v.toFixed(1) : v]))));
  console.log(`infer p50 at ${rows[0]!.size}px / 128px = ${result.infer_ratio_smallest_vs_native} (≈1: ORT executes the whole student graph for every level)`);
  console.log(`first face after start: p50 ${result.first_face_after_start_ms.p50.toFixed(0)} ms; wasm peak ${result.wasm_memory_peak_mb.toFixed(1)} MB; bundle ${result.bundle.raw_mb} MB raw / ${result.bundle.gzip_mb} MB gzip`);
  mkdirSync(join(REPO, "bench/results"), { recursive: true });
  writeFileSync(join(REPO, "bench/results/edge.json"), JSON.stringify(result, null, 2) + "\n");
  console.log("wrote bench/results/edge.json");
}

await main();
