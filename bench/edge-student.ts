// Edge student vs the release, side by side in workerd (issue 15): the latency of an edge miss (a face no cache holds)
// at each size, through HTTP into the built worker, one worker per variant, requests interleaved across variants:
//   release        models/ffhq as served (its serving table: 128 px is drawn from img_256, the quality choice)
//   release-level  the release pruned to the head of the requested size (img_128 at 128): the baseline
//   edge           the candidate edge student (default training/runs/edge_fast/model, `npm run export:edge`)
//   compare        with --compare DIR, another candidate measured in the same run (e.g. an earlier, wider one)
// Usage: npm run bench:edge-student -- [--candidate DIR] [--compare DIR] [--reference models/ffhq] [--runs 15]
//        [--sizes 128,256]
// Prints a table and writes bench/results/edge-student.json (p50/p90 of the request and of Server-Timing infer).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { flags } from "../harness/flags.js";
import { buildWorker, REPO, startWorker, type WorkerHandle } from "../harness/worker.js";

const f = flags(["candidate", "compare", "reference", "runs", "sizes"] as const,
  "npm run bench:edge-student [-- --candidate DIR --compare DIR --reference models/ffhq --runs 15 --sizes 128,256]");
const CANDIDATE = resolve(REPO, f.candidate ?? "training/runs/edge_fast/model");
const COMPARE = f.compare ? resolve(REPO, f.compare) : null;
const REFERENCE = resolve(REPO, f.reference ?? "models/ffhq");
const RUNS = Number(f.runs ?? 15);
const SIZES = (f.sizes ?? "128,256").split(",").map(Number);
const WARMUP = 2;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** A models directory holding one model (linked file by file) as the default, with an optional manifest edit. */
function modelsDir(root: string, name: string, src: string, edit?: (m: Record<string, any>) => void): string {
  const manifest = JSON.parse(readFileSync(join(src, "manifest.json"), "utf8"));
  const dir = join(root, `models-${name}`);
  const model = join(dir, manifest.id);
  mkdirSync(model, { recursive: true });
  for (const file of readdirSync(src)) if (file !== "manifest.json") symlinkSync(join(src, file), join(model, file));
  edit?.(manifest);
  writeFileSync(join(model, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(join(dir, "default.json"), JSON.stringify({ default: manifest.id }));
  return dir;
}

async function miss(w: WorkerHandle, seed: string, size: number): Promise<{ ms: number; infer: number }> {
  const t = performance.now();
  const res = await fetch(`${w.url}/face/${encodeURIComponent(seed)}.png?size=${size}`);
  await res.arrayBuffer();
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`${seed}@${size}: HTTP ${res.status}`);
  const infer = Number(/infer;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1] ?? NaN);
  return { ms, infer };
}

function macsAt(manifestDir: string, output: string): number | null {
  const m = JSON.parse(readFileSync(join(manifestDir, "manifest.json"), "utf8"));
  return m.networks.student.levels?.find((l: any) => l.output === output)?.macs ?? null;
}

async function main() {
  const root = mkdtempSync(join(tmpdir(), "seedface-edge-student-"));
  const variants = [
    { name: "release", dir: modelsDir(root, "release", REFERENCE) },
    { name: "release-level", dir: modelsDir(root, "release-level", REFERENCE, (m) => {
      m.networks.student.serving = { edge_max_size: m.networks.student.serving?.edge_max_size ?? 256 };
    }) },
    { name: "edge", dir: modelsDir(root, "edge", CANDIDATE) },
    ...(COMPARE ? [{ name: "compare", dir: modelsDir(root, "compare", COMPARE) }] : []),
  ];
  const workers: Record<string, WorkerHandle> = {};
  try {
    for (const v of variants) {
      process.stdout.write(`building the worker for ${v.name} ...\n`);
      const build = await buildWorker(join(root, `build-${v.name}`), v.dir);
      workers[v.name] = await startWorker({ distDir: build.dist, assetsDir: build.assets });
    }
    const samples: Record<string, Record<number, { ms: number[]; infer: number[] }>> = {};
    for (let run = -WARMUP; run < RUNS; run++) {
      for (const size of SIZES) {
        for (const v of variants) {
          const r = await miss(workers[v.name]!, `bench-${v.name}-${run}-${size}`, size);
          if (run < 0) continue; // the first faces of an isolate also create its sessions
          const s = ((samples[v.name] ??= {})[size] ??= { ms: [], infer: [] });
          s.ms.push(r.ms);
          s.infer.push(r.infer);
        }
      }
      if (run >= 0 && (run + 1) % 5 === 0) process.stdout.write(`run ${run + 1}/${RUNS}\n`);
    }
    const rows = [];
    for (const size of SIZES) {
      const base = pct(samples["release-level"]![size]!.ms, 50);
      const served = pct(samples["release"]![size]!.ms, 50);
      for (const v of variants) {
        const s = samples[v.name]![size]!;
        const p50 = pct(s.ms, 50);
        rows.push({
          size, variant: v.name, miss_p50_ms: +p50.toFixed(1), miss_p90_ms: +pct(s.ms, 90).toFixed(1),
          infer_p50_ms: +pct(s.infer, 50).toFixed(1),
          speedup_vs_release_level: +(base / p50).toFixed(2), speedup_vs_release_served: +(served / p50).toFixed(2),
        });
      }
    }
    console.table(rows);
    const edge128 = rows.find((r) => r.variant === "edge" && r.size === 128);
    const edge256 = rows.find((r) => r.variant === "edge" && r.size === 256);
    const targets = {
      miss_p50_128_ms: { target: 40, got: edge128?.miss_p50_ms ?? null, met: (edge128?.miss_p50_ms ?? Infinity) <= 40 },
      speedup_128: { target: 3, got: edge128?.speedup_vs_release_level ?? null, met: (edge128?.speedup_vs_release_level ?? 0) >= 3 },
      speedup_256: { target: 3, got: edge256?.speedup_vs_release_level ?? null, met: (edge256?.speedup_vs_release_level ?? 0) >= 3 },
    };
    console.table(targets);
    const out = join(REPO, "bench/results/edge-student.json");
    mkdirSync(join(REPO, "bench/results"), { recursive: true });
    writeFileSync(out, JSON.stringify({
      bench: "edge-student", when: new Date().toISOString(), runs: RUNS, warmup_per_size: WARMUP,
      note: "edge misses (distinct seeds) through HTTP into workerd (Miniflare), PNG, interleaved across variants; " +
        "one machine, one run, so only the ratios travel",
      candidate: CANDIDATE.replace(REPO + "/", ""), reference: REFERENCE.replace(REPO + "/", ""),
      compare: COMPARE?.replace(REPO + "/", "") ?? null,
      macs: Object.fromEntries(SIZES.map((s) => [s, {
        release_level: macsAt(REFERENCE, `img_${s}`),
        edge: macsAt(CANDIDATE, `img_${s}`),
        ...(COMPARE ? { compare: macsAt(COMPARE, `img_${s}`) } : {}),
      }])),
      rows, targets,
    }, null, 1) + "\n");
    console.log(`wrote ${out}`);
  } finally {
    for (const w of Object.values(workers)) await w.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
