// `npm run bench:openvino [-- --model ffhq --threads 1,2 --rounds 8 --block 3 --drop 1 --warmup 2
//                            --variants origin,no-spin,extended,basic,no-mem-pattern,no-arena,denormal-zero
//                            --no-bf16 --no-profile]`
// Our origin path against the MobileStyleGAN authors' own OpenVINO release, at 1024px, batch 1, on this CPU:
//  - OpenVINO (Python `openvino`, bench/openvino-helper.py kept warm over stdin/stdout) running the release's
//    SynthesisNetwork IR straight from the pinned random-face wheel, INFERENCE_PRECISION_HINT f32 set explicitly
//    (plus OpenVINO's CPU default, bf16 on an AMX/AVX512-BF16 CPU, as extra rows), INFERENCE_NUM_THREADS per --threads;
//  - onnxruntime-node on models/<model>/student_fp32.onnx pruned to its full-resolution output exactly as the
//    origin loads it (makeNoiseBatchable -> graphPerOutput -> sessionOptions("cpu", threads)), one w broadcast to
//    W+ and the 15 noise maps the origin feeds.
// Steady state: --warmup runs of every configuration dropped, then --rounds rounds in which every configuration
// (all thread counts, both runtimes) runs one block of --block runs in turn (order rotated each round), the first
// --drop runs of each block dropped. Reports p50/p95 per runtime and thread count and ours / OpenVINO-f32 (target
// <= 0.8x), as p50 and p95 ratios and as the median of per-round paired ratios. Also: a parity check (ORT fed the
// release's own noise draws vs OpenVINO f32, and the helper's warm path vs a direct OpenVINO call), per-op
// profiles of both runtimes (--no-profile skips), and session-option variants for ORT (--variants, see VARIANTS).
// Writes bench/results/openvino.json (docs/benchmarks.md is rebuilt from it by bench/all.ts).
import { spawn } from "node:child_process";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import * as ort from "onnxruntime-node";
import { styleFromSeed } from "../src/shared/face.js";
import type { ModelRunner } from "../src/shared/face.js";
import { fullOutput, noiseInputs, parseManifest, wInput } from "../src/shared/manifest.js";
import type { Manifest } from "../src/shared/manifest.js";
import { makeNoiseBatchable } from "../src/origin/onnx-batch-noise.js";
import { chooseProvider, cudaLibraryPresent, sessionOptions } from "../src/origin/provider.js";
import { graphPerOutput } from "../src/shared/onnx-prune.js";
import { noiseForNetwork } from "../src/shared/face.js";
import { parseFlags } from "../harness/flags.js";

const REPO = join(import.meta.dirname, "..");
const { values: FLAGS } = parseFlags({
  strings: ["model", "threads", "rounds", "block", "drop", "warmup", "wheel", "python", "variants"],
  booleans: ["no-bf16", "no-profile"],
  usage: "npm run bench:openvino [-- --model ffhq --threads 1,2 --rounds 8 --block 3 --drop 1 --warmup 2 --variants origin,no-spin --wheel W --python P --no-bf16 --no-profile]",
});
type ValueFlag = "model" | "threads" | "rounds" | "block" | "drop" | "warmup" | "wheel" | "python" | "variants";
const arg = (name: ValueFlag, def: string): string => FLAGS[name] ?? def;
const MODEL = arg("model", "ffhq");
const THREADS = arg("threads", "1,2").split(",").map(Number);
const ROUNDS = Number(arg("rounds", "8"));
const BLOCK = Number(arg("block", "3"));
const DROP = Number(arg("drop", "1"));
const WARMUP = Number(arg("warmup", "2"));
const WHEEL = arg("wheel", join(REPO, "training/downloads/random_face-2021.7.21.1-py3-none-any.whl"));
const PYTHON = arg("python", join(REPO, "training/.venv/bin/python"));
const BF16 = !FLAGS["no-bf16"];
const PROFILE = !FLAGS["no-profile"];
const TARGET = 0.8;
/** Pause when the CPU passes from one runtime to the other, so neither's spinning pool threads eat the other's start. */
const SWITCH_PAUSE_MS = 50;

/** ORT session-option variants tried on top of the origin's own options (sessionOptions("cpu", threads)). */
const VARIANTS: Record<string, { note: string; apply: (o: ort.InferenceSession.SessionOptions) => void }> = {
  origin: { note: "the origin's options: graphOptimizationLevel all, intra-op N, inter-op 1", apply: () => {} },
  extended: { note: "graphOptimizationLevel extended (no NCHWc layout transform)", apply: (o) => { o.graphOptimizationLevel = "extended"; } },
  basic: { note: "graphOptimizationLevel basic", apply: (o) => { o.graphOptimizationLevel = "basic"; } },
  "no-mem-pattern": { note: "enableMemPattern false", apply: (o) => { o.enableMemPattern = false; } },
  "no-arena": { note: "enableCpuMemArena false", apply: (o) => { o.enableCpuMemArena = false; } },
  "no-spin": { note: "session.intra_op.allow_spinning 0", apply: (o) => { o.extra = { session: { intra_op: { allow_spinning: "0" } } }; } },
  "denormal-zero": { note: "session.set_denormal_as_zero 1", apply: (o) => { o.extra = { session: { set_denormal_as_zero: "1" } }; } },
};
// Default: the origin's options and the one cheap fix that measurably helped here (no spinning at 2+ threads).
const VARIANT_NAMES = arg("variants", "origin,no-spin").split(",").filter(Boolean);
for (const v of VARIANT_NAMES) if (!VARIANTS[v]) throw new Error(`unknown --variants ${v} (have ${Object.keys(VARIANTS).join(", ")})`);
if (!VARIANT_NAMES.includes("origin")) VARIANT_NAMES.unshift("origin");

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- the OpenVINO helper -----------------------------------------------------------------------------------------

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

class OpenVino {
  private proc: ChildProcessWithoutNullStreams;
  private lines: AsyncIterator<string>;
  private queue: Promise<unknown> = Promise.resolve();

  constructor() {
    this.proc = spawn(PYTHON, [join(REPO, "bench/openvino-helper.py")], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
    this.proc.stderr.on("data", (d: Buffer) => process.stderr.write(`[openvino] ${d}`));
    this.lines = createInterface({ input: this.proc.stdout })[Symbol.asyncIterator]();
  }

  /** One request, one reply; requests are serialised. */
  call(req: Record<string, unknown>): Promise<Json> {
    const p = this.queue.then(async () => {
      this.proc.stdin.write(JSON.stringify(req) + "\n");
      const { value, done } = await this.lines.next();
      if (done) throw new Error(`openvino helper exited (${req.op})`);
      const res = JSON.parse(value as string) as Json;
      if (!res.ok) throw new Error(`openvino helper: ${req.op}: ${res.error}`);
      return res;
    });
    this.queue = p.catch(() => {});
    return p;
  }

  async quit(): Promise<void> {
    await this.call({ op: "quit" }).catch(() => {});
    this.proc.kill();
  }
}

// ---- our side: the origin's session over the pruned graph --------------------------------------------------------

interface OrtSide {
  session: ort.InferenceSession;
  output: string;
  feeds: Record<string, ort.Tensor>;
}

function originGraph(dir: string, m: Manifest): { model: Uint8Array; output: string; nodes?: number } {
  const net = m.networks.student;
  const bytes = new Uint8Array(readFileSync(join(dir, net.files.fp32!)));
  // What loadModel (src/origin/models.ts) does for a synthesis network: noise made batchable, one graph per output.
  const output = fullOutput(net).name;
  const graph = graphPerOutput(makeNoiseBatchable(bytes).model)[output];
  if (!graph) throw new Error(`${net.files.fp32} has no output ${output}`);
  return { model: graph.model, output, nodes: graph.nodes };
}

function ortFeeds(m: Manifest, w: Float32Array, noise: Float32Array[]): Record<string, ort.Tensor> {
  const net = m.networks.student;
  const { name, nW, rank } = wInput(net);
  // As synthesize() in src/shared/face.ts: one w' broadcast to every W+ slot.
  const wPlus = new Float32Array(nW * m.style_dim);
  for (let s = 0; s < nW; s++) wPlus.set(w, s * m.style_dim);
  const feeds: Record<string, ort.Tensor> = { [name]: new ort.Tensor("float32", wPlus, rank === 2 ? [1, m.style_dim] : [1, nW, m.style_dim]) };
  noiseInputs(net).forEach((n, k) => { feeds[n.name] = new ort.Tensor("float32", noise[k]!, [1, 1, n.size, n.size]); });
  return feeds;
}

async function ortRun(side: OrtSide): Promise<{ ms: number; img: Float32Array }> {
  const t = performance.now();
  const out = await side.session.run(side.feeds, [side.output]);
  const ms = performance.now() - t;
  return { ms, img: out[side.output]!.data as Float32Array };
}

/** The release's frozen noise draws (manifest networks.student.release_noise), as noise_k feeds. */
function releaseNoise(dir: string, m: Manifest): Float32Array[] | null {
  const rn = (m.networks.student as Json).release_noise as { file: string; sizes: number[] } | undefined;
  if (!rn || !existsSync(join(dir, rn.file))) return null;
  const buf = readFileSync(join(dir, rn.file));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out: Float32Array[] = [];
  let off = 0;
  for (const s of rn.sizes) {
    out.push(all.slice(off, off + s * s));
    off += s * s;
  }
  return out;
}

function diffStats(a: Float32Array, b: Float32Array): { max_abs_diff: number; mean_abs_diff: number; psnr_db: number } {
  if (a.length !== b.length) throw new Error(`images differ in size: ${a.length} vs ${b.length}`);
  let max = 0, sum = 0, sq = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) max = d;
    sum += d;
    sq += d * d;
  }
  // Images are in [-1, 1]: peak-to-peak 2.
  return { max_abs_diff: max, mean_abs_diff: sum / a.length, psnr_db: 10 * Math.log10(4 / Math.max(sq / a.length, 1e-30)) };
}

function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** ORT's own profiler over a few runs of a session with the origin's options: time per op type and top nodes. */
async function ortProfile(graph: Uint8Array, threads: number, feeds: Record<string, ort.Tensor>, output: string, runs: number) {
  const dir = mkdtempSync(join(tmpdir(), "seedface-ortprof-"));
  try {
    const opts = { ...sessionOptions("cpu", threads), enableProfiling: true, profileFilePrefix: join(dir, "ort") };
    const s = await ort.InferenceSession.create(graph, opts);
    for (let i = 0; i < runs + 1; i++) await s.run(feeds, [output]);
    s.endProfiling();
    await s.release();
    const file = readdirSync(dir).find((f) => f.endsWith(".json"));
    if (!file) return null;
    const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as Json[];
    const runEvents = events.filter((e) => e.name === "model_run");
    // Drop the first run (allocations, first-touch); the profiler's per-node events follow each model_run's window.
    const first = runEvents[0];
    const from = first ? first.ts + first.dur : 0;
    const nodes = events.filter((e) => e.cat === "Node" && String(e.name).endsWith("_kernel_time") && e.ts >= from);
    const n = Math.max(1, runEvents.length - 1);
    const byOp = new Map<string, { us: number; count: number }>();
    const byNode = new Map<string, { us: number; op: string; shape: string }>();
    for (const e of nodes) {
      const op = String(e.args?.op_name ?? "?");
      const o = byOp.get(op) ?? { us: 0, count: 0 };
      o.us += e.dur;
      o.count++;
      byOp.set(op, o);
      const key = String(e.name).replace(/_kernel_time$/, "");
      const nd = byNode.get(key) ?? { us: 0, op, shape: JSON.stringify(e.args?.output_type_shape ?? "") };
      nd.us += e.dur;
      byNode.set(key, nd);
    }
    const total = [...byOp.values()].reduce((a, b) => a + b.us, 0);
    return {
      threads,
      runs_profiled: n,
      run_ms: runEvents.slice(1).map((e) => e.dur / 1000),
      kernel_ms_per_run: total / n / 1000,
      by_op: [...byOp.entries()].sort((a, b) => b[1].us - a[1].us).map(([op, v]) => ({
        op, ms_per_run: v.us / n / 1000, share: v.us / total, nodes: Math.round(v.count / n),
      })),
      top_nodes: [...byNode.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 12).map(([name, v]) => ({
        node: name, op: v.op, output: v.shape, ms_per_run: v.us / n / 1000,
      })),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The GPU path: timed only where the CUDA provider loads (a GPU machine with it installed); otherwise why not. */
async function gpuEntry(graph: Uint8Array, output: string, feeds: Record<string, ort.Tensor>, mappingBytes: Uint8Array): Promise<Json> {
  if (!cudaLibraryPresent()) {
    return { available: false, timed: false, reason: "no GPU in this session: the onnxruntime-node CUDA provider is not installed and no device was lent; only the CPU was timed" };
  }
  const choice = await chooseProvider("cuda", mappingBytes, 0);
  if (choice.ep !== "cuda") return { available: false, timed: false, reason: choice.reason };
  const s = await ort.InferenceSession.create(graph, sessionOptions("cuda", 0));
  for (let i = 0; i < 5; i++) await s.run(feeds, [output]);
  const ms: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    await s.run(feeds, [output]);
    ms.push(performance.now() - t);
  }
  await s.release();
  return { available: true, timed: true, ep: "cuda", reason: choice.reason, runs: ms.length, p50_ms: pct(ms, 50), p95_ms: pct(ms, 95), note: "OpenVINO's release has no NVIDIA GPU path: no ratio" };
}

// ---- the schedule ------------------------------------------------------------------------------------------------

interface Config {
  id: string;
  runtime: "openvino" | "onnxruntime-node";
  precision: string;
  threads: number;
  variant: string;
  /** Runs n times, returns the wall time of each (ms). */
  run: (n: number) => Promise<number[]>;
  samples: number[];
  blockMedians: number[];
}

async function main() {
  const dir = join(REPO, "models", MODEL);
  if (!existsSync(join(dir, "manifest.json"))) {
    console.error(`bench:openvino skipped: no models/${MODEL} (npm run models:ffhq imports it); bench/results/openvino.json left as it was`);
    return;
  }
  const m = parseManifest(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
  if (!existsSync(WHEEL) || !existsSync(join(dir, m.networks.student.files.fp32!))) {
    // Nothing to compare without the release (npm run models:ffhq downloads the wheel and imports models/ffhq).
    console.error(`bench:openvino skipped: needs ${WHEEL} and ${join(dir, m.networks.student.files.fp32!)} (npm run models:ffhq); bench/results/openvino.json left as it was`);
    return;
  }
  process.stderr.write(`model ${m.id}@${m.version} (${m.resolution}px), ${cpus().length} CPUs, load ${loadavg().map((x) => x.toFixed(1)).join(" ")}\n`);

  // A real style for a real face: the origin's own mapping + truncation for one seed (psi 0.7).
  const mappingBytes = new Uint8Array(readFileSync(join(dir, m.networks.mapping.files.fp32!)));
  const mapping = await ort.InferenceSession.create(mappingBytes, sessionOptions("cpu", 1));
  const runner: ModelRunner = {
    async run(_n, feeds, outputs) {
      const f = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor("float32", t.data, t.dims)]));
      const r = await mapping.run(f, outputs);
      return Object.fromEntries(outputs.map((o) => [o, { data: r[o]!.data as Float32Array, dims: [...r[o]!.dims] }]));
    },
  };
  const SEED = "openvino-bench";
  const w = await styleFromSeed(runner, m, SEED, 0.7);
  const noise = await noiseForNetwork(m.networks.student, SEED);
  await mapping.release();

  const g = originGraph(dir, m);
  process.stderr.write(`ORT graph pruned to ${g.output}: ${g.nodes ?? "all"} nodes\n`);
  const feeds = ortFeeds(m, w, noise);

  const ov = new OpenVino();
  const configs: Config[] = [];
  const ovInfo: Json = {};
  const tmp = mkdtempSync(join(tmpdir(), "seedface-ovbench-"));
  try {
    Object.assign(ovInfo, await ov.call({ op: "load", wheel: WHEEL }));
    await ov.call({ op: "style", values: [...w] });
    process.stderr.write(`OpenVINO ${ovInfo.version}, ${ovInfo.device}; CPU default precision ${ovInfo.cpu_defaults.INFERENCE_PRECISION_HINT}\n`);
    ovInfo.compiled = {};
    const ortSessions: Record<string, { create_ms: number; note: string }> = {};
    for (const t of THREADS) {
      const precisions: (string | null)[] = ["f32", ...(BF16 ? [null] : [])];
      for (const p of precisions) {
        const id = `ov-${p ?? "default"}-${t}`;
        const c = await ov.call({ op: "compile", id, precision: p, threads: t });
        ovInfo.compiled[id] = c;
        const applied = String(c.applied.INFERENCE_PRECISION_HINT);
        if (Number(c.applied.INFERENCE_NUM_THREADS) !== t) throw new Error(`OpenVINO applied ${c.applied.INFERENCE_NUM_THREADS} threads, asked for ${t}`);
        if (p !== null && applied !== p) throw new Error(`OpenVINO applied precision ${applied}, asked for ${p}`);
        configs.push({
          id, runtime: "openvino", precision: p === null ? `${applied} (CPU default)` : applied,
          threads: t, variant: p === null ? "default precision" : "f32 hint",
          run: async (n) => (await ov.call({ op: "run", id, n })).ms as number[], samples: [], blockMedians: [],
        });
      }
      for (const v of VARIANT_NAMES) {
        const opts = sessionOptions("cpu", t);
        VARIANTS[v]!.apply(opts);
        const t0 = performance.now();
        const session = await ort.InferenceSession.create(g.model, opts);
        const id = `ort-${v}-${t}`;
        ortSessions[id] = { create_ms: performance.now() - t0, note: VARIANTS[v]!.note };
        const side: OrtSide = { session, output: g.output, feeds };
        configs.push({
          id, runtime: "onnxruntime-node", precision: "f32", threads: t, variant: v,
          run: async (n) => { const r: number[] = []; for (let i = 0; i < n; i++) r.push((await ortRun(side)).ms); return r; },
          samples: [], blockMedians: [],
        });
      }
    }

    // Parity: ORT fed the release's own noise draws reproduces OpenVINO f32 on the release IR (same network), and
    // the helper's warm path returns what a direct OpenVINO call returns.
    const parity: Json = {};
    const rn = releaseNoise(dir, m);
    const ovF32 = configs.find((c) => c.runtime === "openvino" && c.precision === "f32")!;
    await ov.call({ op: "image", id: ovF32.id, out: join(tmp, "ov.f32") });
    const ovImg = readF32(join(tmp, "ov.f32"));
    await ov.call({ op: "direct", wheel: WHEEL, out: join(tmp, "direct.f32") });
    parity.helper_vs_direct_openvino = diffStats(ovImg, readF32(join(tmp, "direct.f32")));
    if (rn) {
      const s = await ort.InferenceSession.create(g.model, sessionOptions("cpu", THREADS[0]!));
      const r = await ortRun({ session: s, output: g.output, feeds: ortFeeds(m, w, rn) });
      parity.ours_release_noise_vs_openvino_f32 = diffStats(r.img, ovImg);
      await s.release();
    }
    const bf = configs.find((c) => c.runtime === "openvino" && c.variant === "default precision");
    if (bf) {
      await ov.call({ op: "image", id: bf.id, out: join(tmp, "ov.bf16") });
      parity.openvino_default_precision_vs_f32 = diffStats(readF32(join(tmp, "ov.bf16")), ovImg);
    }
    parity.pass = parity.helper_vs_direct_openvino.max_abs_diff < 1e-4 &&
      (!parity.ours_release_noise_vs_openvino_f32 || parity.ours_release_noise_vs_openvino_f32.max_abs_diff < 1e-2);
    process.stderr.write(`parity: ${JSON.stringify(parity)}\n`);

    // Warm-up (dropped), then the interleaved rounds.
    for (const c of configs) await c.run(WARMUP);
    const t0 = performance.now();
    let last = "";
    for (let r = 0; r < ROUNDS; r++) {
      const order = configs.map((_, i) => configs[(i + r) % configs.length]!);
      for (const c of order) {
        if (c.runtime !== last) await sleep(SWITCH_PAUSE_MS);
        last = c.runtime;
        const ms = (await c.run(BLOCK)).slice(DROP);
        c.samples.push(...ms);
        c.blockMedians.push(median(ms));
      }
      process.stderr.write(`round ${r + 1}/${ROUNDS}: ${configs.map((c) => `${c.id} ${median(c.blockMedians.slice(-1)).toFixed(0)}`).join(", ")} ms\n`);
    }
    const scheduleS = (performance.now() - t0) / 1000;

    const rows = configs.map((c) => ({
      runtime: c.runtime, precision: c.precision, threads: c.threads, variant: c.variant, runs: c.samples.length,
      p50_ms: pct(c.samples, 50), p95_ms: pct(c.samples, 95), min_ms: Math.min(...c.samples),
      mean_ms: c.samples.reduce((a, b) => a + b, 0) / c.samples.length,
      ...(c.runtime === "onnxruntime-node" ? { session: ortSessions[c.id] } : {}),
    }));
    const ratios = [];
    for (const t of THREADS) {
      const ovc = configs.find((c) => c.runtime === "openvino" && c.threads === t && c.precision === "f32")!;
      const ovd = configs.find((c) => c.runtime === "openvino" && c.threads === t && c.variant === "default precision");
      for (const c of configs.filter((x) => x.runtime === "onnxruntime-node" && x.threads === t)) {
        const paired = c.blockMedians.map((b, i) => b / ovc.blockMedians[i]!);
        const ratio_p50 = pct(c.samples, 50) / pct(ovc.samples, 50);
        ratios.push({
          threads: t, variant: c.variant,
          ours_p50_ms: pct(c.samples, 50), openvino_f32_p50_ms: pct(ovc.samples, 50),
          ratio_p50, ratio_p95: pct(c.samples, 95) / pct(ovc.samples, 95), ratio_paired_median: median(paired),
          ratio_vs_openvino_default_p50: ovd ? pct(c.samples, 50) / pct(ovd.samples, 50) : null,
          target: TARGET, pass: ratio_p50 <= TARGET,
        });
      }
    }

    let profile: Json = null;
    if (PROFILE) {
      const t = THREADS[0]!;
      process.stderr.write(`profiling (ORT, OpenVINO f32) at ${t} thread(s)\n`);
      await ov.call({ op: "compile", id: "ov-prof", precision: "f32", threads: t, perf_count: true });
      const ovProf = await ov.call({ op: "profile", id: "ov-prof", n: 3 });
      profile = { ort: await ortProfile(g.model, t, feeds, g.output, 3), openvino_f32: { threads: t, total_ms: ovProf.total_ms, by_type: ovProf.by_type } };
    }

    const gpu = await gpuEntry(g.model, g.output, feeds, mappingBytes);

    const line = (cells: (string | number)[], wd: number[]) => cells.map((c, i) => String(c).padStart(wd[i]!)).join("  ");
    const W = [17, 22, 16, 7, 5, 9, 9, 9];
    console.log(`\nOpenVINO release IR vs our origin path, ${m.id} ${g.output}, batch 1, ${ROUNDS} rounds x ${BLOCK - DROP} runs kept per config, interleaved`);
    console.log(line(["runtime", "precision", "variant", "threads", "runs", "p50 ms", "p95 ms", "min ms"], W));
    for (const r of rows) console.log(line([r.runtime, r.precision, r.variant, r.threads, r.runs, r.p50_ms.toFixed(1), r.p95_ms.toFixed(1), r.min_ms.toFixed(1)], W));
    console.log(`\nours / OpenVINO f32 (target <= ${TARGET}x):`);
    for (const r of ratios) {
      console.log(`  ${r.threads} thread(s), ${r.variant}: p50 ${r.ratio_p50.toFixed(2)}x, p95 ${r.ratio_p95.toFixed(2)}x, paired ${r.ratio_paired_median.toFixed(2)}x` +
        (r.ratio_vs_openvino_default_p50 !== null ? `; vs OpenVINO default precision ${r.ratio_vs_openvino_default_p50.toFixed(2)}x` : "") + ` ${r.pass ? "PASS" : "FAIL"}`);
    }
    if (profile?.ort) {
      console.log(`\nORT per-op time at ${profile.ort.threads} thread(s) (${profile.ort.kernel_ms_per_run.toFixed(0)} ms kernels per run):`);
      for (const o of profile.ort.by_op.slice(0, 8)) console.log(`  ${o.op.padEnd(16)} ${o.ms_per_run.toFixed(1).padStart(7)} ms  ${(100 * o.share).toFixed(1).padStart(5)}%  (${o.nodes} nodes)`);
      console.log(`OpenVINO f32 per-layer-type time (${profile.openvino_f32.total_ms.toFixed(0)} ms):`);
      for (const o of profile.openvino_f32.by_type.slice(0, 6)) console.log(`  ${String(o.type).padEnd(16)} ${o.ms.toFixed(1).padStart(7)} ms  (${o.count} layers, ${o.exec_types.join("/")})`);
    }
    console.log(`gpu: ${gpu.timed ? `ORT CUDA p50 ${gpu.p50_ms.toFixed(1)} ms` : gpu.reason}`);

    const result = {
      bench: "openvino",
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", node: process.version, loadavg_at_end: loadavg() },
      versions: {
        openvino: ovInfo.version,
        "onnxruntime-node": (JSON.parse(readFileSync(join(REPO, "node_modules/onnxruntime-node/package.json"), "utf8")) as { version: string }).version,
      },
      model: { dir: `models/${MODEL}`, id: m.id, version: m.version, resolution: m.resolution, file: m.networks.student.files.fp32, output: g.output, pruned_nodes: g.nodes ?? null, macs: m.networks.student.levels?.find((l: Json) => l.output === g.output)?.macs ?? null },
      openvino: {
        ir: `${WHEEL.split("/").pop()}:random_face/data/SynthesisNetwork.{xml,bin}`,
        device: ovInfo.device, capabilities: ovInfo.capabilities, cpu_defaults: ovInfo.cpu_defaults,
        inputs: ovInfo.inputs, outputs: ovInfo.outputs, compiled: ovInfo.compiled,
      },
      inputs: `seed "${SEED}", psi 0.7: the origin's mapping + truncation; OpenVINO gets style [1,512], ORT that w broadcast to [1,${wInput(m.networks.student).nW},512] and the seed's 15 noise maps (the release IR has its noise frozen in)`,
      schedule: { warmup_runs_dropped: WARMUP, rounds: ROUNDS, block: BLOCK, dropped_per_block: DROP, order: "every config one block per round, order rotated each round", switch_pause_ms: SWITCH_PAUSE_MS, seconds: scheduleS },
      rows,
      ratios,
      target: `ours / OpenVINO f32 p50 <= ${TARGET}x at every thread count`,
      pass: ratios.filter((r) => r.variant === "origin").every((r) => r.pass),
      parity,
      profile,
      gpu,
    };
    mkdirSync(join(REPO, "bench/results"), { recursive: true });
    writeFileSync(join(REPO, "bench/results/openvino.json"), JSON.stringify(result, null, 2) + "\n");
    console.log("\nwrote bench/results/openvino.json");
    if (!parity.pass) {
      console.error("parity check failed: the two runtimes do not compute the same network");
      process.exitCode = 1;
    }
  } finally {
    await ov.quit();
    rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
