// Latency of the student's precision variants inside workerd (the edge), next to `npm run bench:quant`'s Node
// figures. For fp32 and every int8 variant kept by `npm run quantize -- <model> --keep-variants DIR`, this builds
// the real worker (wrangler dry-run) with a scratch models root whose model uses that variant as its edge file, runs
// all builds at once in Miniflare, and times warm renders of distinct seeds over HTTP, rounds interleaved across
// variants so the shared machine's load hits every variant alike. Figures: Server-Timing `infer` (workerd's clock,
// whole-ms resolution, hence mean as well as median) and the client's HTTP time of the whole cache miss.
//
//   npm run bench:quant:workerd -- [models/<id>] [VARIANT_DIR] [--runs 30]
// Without VARIANT_DIR it runs the quantizer on a temporary copy of the model to get the variants.
// The build happens in a temporary copy of src/ so the checkout's src/edge/bundled-model.generated.ts is untouched.
// Writes bench/results/quant-workerd.json (read by `npm run report:models` for docs/models.md).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { networkFile, parseManifest } from "../src/shared/manifest.js";
import type { WorkerHandle } from "../harness/worker.js";
import { REPO, startWorker } from "../harness/worker.js";
import { parseFlags } from "../harness/flags.js";

const { values: FLAGS, positionals: args } = parseFlags({
  strings: ["runs"],
  positionals: 2,
  usage: "npm run bench:quant:workerd -- [models/<id>] [VARIANT_DIR] [--runs 30]",
});
const RUNS = Number(FLAGS.runs ?? 30);
const WARMUP = 3;
const defaultId = JSON.parse(readFileSync(join(REPO, "models/default.json"), "utf8")).default as string;
const modelDir = resolve(args[0] ?? join(REPO, "models", defaultId));
const manifestRaw = JSON.parse(readFileSync(join(modelDir, "manifest.json"), "utf8"));
const manifest = parseManifest(manifestRaw);
const scratch = mkdtempSync(join(tmpdir(), "seedface-quant-workerd-"));

interface Variant {
  name: string;
  file: string;
  bytes: number;
  sessionConfig?: Record<string, string>;
  psnr_db?: number;
  ssim?: number;
}

const log = (msg: string) => process.stdout.write(`[quant-workerd] ${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const r2 = (x: number) => Math.round(x * 100) / 100;

/** Variant files (from DIR, or from a quantizer run on a temporary copy) and their quality figures. */
function variants(): { list: Variant[]; source: string } {
  let dir = args[1] ? resolve(args[1]) : undefined;
  let quant = manifestRaw.quantization as { variants?: (Variant & { session_config?: Record<string, string> })[] } | undefined;
  let source = dir ? `variants kept in ${dir}` : "";
  if (!dir) {
    const copy = join(scratch, "quantize", manifest.id);
    dir = join(scratch, "variants");
    cpSync(modelDir, copy, { recursive: true });
    mkdirSync(dir, { recursive: true });
    log(`no variant directory given: quantizing a copy of ${modelDir} (keeps every variant)`);
    execFileSync(join(REPO, "training/.venv/bin/python"),
      ["-m", "seedface.quantize", copy, "--keep-variants", dir, "--results-dir", join(scratch, "quantize")],
      { cwd: REPO, stdio: "inherit", env: { ...process.env, PYTHONPATH: join(REPO, "training"), OMP_NUM_THREADS: "1" } });
    quant = JSON.parse(readFileSync(join(copy, "manifest.json"), "utf8")).quantization;
    source = `npm run quantize -- ${modelDir} --keep-variants (temporary copy)`;
  }
  const fp32 = join(modelDir, networkFile(manifest.networks.student).file);
  const list: Variant[] = [{ name: "fp32", file: fp32, bytes: statSync(fp32).size }];
  for (const f of readdirSync(dir).sort()) {
    const m = /^student_(.+)\.onnx$/.exec(f);
    if (!m || m[1] === "fp32") continue;
    const q = quant?.variants?.find((v) => v.name === m[1]);
    const file = join(dir, f);
    list.push({ name: m[1]!, file, bytes: statSync(file).size, sessionConfig: q?.session_config, psnr_db: q?.psnr_db, ssim: q?.ssim });
  }
  if (list.length < 2) throw new Error(`${dir}: no student_<variant>.onnx files`);
  return { list, source };
}

/** A copy of the build inputs (src/, wrangler.toml, ...) in which gen-bundled-model may rewrite its output freely. */
function buildTree(): string {
  const tree = join(scratch, "build");
  mkdirSync(tree);
  for (const d of ["src", "scripts"]) cpSync(join(REPO, d), join(tree, d), { recursive: true });
  for (const f of ["wrangler.toml", "package.json", "tsconfig.json", "tsconfig.base.json"]) cpSync(join(REPO, f), join(tree, f));
  symlinkSync(join(REPO, "node_modules"), join(tree, "node_modules"));
  mkdirSync(join(tree, "dist-assets")); // wrangler.toml names an assets directory; the bench serves none
  return tree;
}

const sha256 = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

/** A models root whose default model is the original with `v` as the student's edge file. */
function modelsRoot(v: Variant): string {
  const root = join(scratch, `models-${v.name}`);
  const id = `${manifest.id}-${v.name}`;
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  const m = structuredClone(manifestRaw);
  m.id = id;
  const mapping = networkFile(manifest.networks.mapping).file;
  const fp32 = networkFile(manifest.networks.student).file;
  cpSync(join(modelDir, mapping), join(dir, mapping));
  cpSync(join(modelDir, fp32), join(dir, fp32));
  const st = m.networks.student;
  st.files = { fp32 };
  if (v.name === "fp32") {
    st.edge_precision = "fp32";
  } else {
    st.files.int8 = `student_${v.name}.onnx`;
    st.edge_precision = "int8";
    cpSync(v.file, join(dir, st.files.int8));
    if (m.quantization) {
      m.quantization.chosen = v.name;
      if (v.sessionConfig) m.quantization.session_config = v.sessionConfig;
      else delete m.quantization.session_config;
    }
  }
  m.files = Object.entries(st.files as Record<string, string>).map(([precision, path]) => ({
    path, network: "student", precision, bytes: statSync(join(dir, path)).size, sha256: sha256(join(dir, path)),
  }));
  m.files.push({ path: mapping, network: "mapping", precision: "fp32", bytes: statSync(join(dir, mapping)).size, sha256: sha256(join(dir, mapping)) });
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(m, null, 2));
  writeFileSync(join(root, "default.json"), JSON.stringify({ default: id }));
  return root;
}

function build(tree: string, v: Variant): string {
  const out = join(scratch, `dist-${v.name}`);
  execFileSync(join(REPO, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", out], {
    cwd: tree,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, SEEDFACE_MODELS_DIR: modelsRoot(v), CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  const bundled = readdirSync(out).filter((f) => f.endsWith(".onnx"));
  const want = v.name === "fp32" ? "student_fp32.onnx" : `student_${v.name}.onnx`;
  if (!bundled.some((f) => f.endsWith(want))) throw new Error(`${v.name}: build bundled ${bundled.join(", ")}, not ${want}`);
  return out;
}

async function draw(w: WorkerHandle, seed: string): Promise<{ infer: number; http: number }> {
  const t = performance.now();
  const res = await fetch(`${w.url}/face/${encodeURIComponent(seed)}.png?size=${manifest.resolution}`);
  await res.arrayBuffer();
  const http = performance.now() - t;
  if (res.status !== 200) throw new Error(`${seed}: HTTP ${res.status}`);
  const infer = Number(/infer;dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "")?.[1] ?? NaN);
  if (!Number.isFinite(infer)) throw new Error(`${seed}: no Server-Timing infer (cache hit or origin?): ${res.headers.get("server-timing")}`);
  return { infer, http };
}

async function main() {
  const { list, source } = variants();
  const tree = buildTree();
  const workers: { v: Variant; w: WorkerHandle; infer: number[]; http: number[]; precision?: string; error?: string }[] = [];
  try {
    for (const v of list) {
      log(`building the worker with ${v.name} (${v.bytes} bytes) as the edge student`);
      const w = await startWorker({ distDir: build(tree, v), assetsDir: null });
      const info = (await (await fetch(`${w.url}/v1/models`)).json()) as { models: { id: string; edge: { precision: string } }[] };
      const served = info.models[0]!;
      if (served.id !== `${manifest.id}-${v.name}`) throw new Error(`${v.name}: the worker serves ${served.id}`);
      workers.push({ v, w, infer: [], http: [], precision: served.edge.precision });
    }
    for (const x of workers) {
      try {
        for (let i = 0; i < WARMUP; i++) await draw(x.w, `warmup-${x.v.name}-${i}`); // ORT init + session load
      } catch (e) {
        x.error = String(e);
        log(`${x.v.name}: failed in workerd: ${x.error}`);
      }
    }
    for (let r = 0; r < RUNS; r++) {
      for (const x of workers) {
        if (x.error) continue;
        const t = await draw(x.w, `quant-workerd-${x.v.name}-${r}`);
        x.infer.push(t.infer);
        x.http.push(t.http);
      }
      if ((r + 1) % 10 === 0) log(`round ${r + 1}/${RUNS}`);
    }
  } finally {
    for (const x of workers) await x.w.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }

  const nodeBench = join(REPO, "bench/results", `quant-variants-${manifest.id}.json`);
  const nodeRows: { runtime: string; variant: string; median_ms: number }[] = existsSync(nodeBench) ? JSON.parse(readFileSync(nodeBench, "utf8")).rows : [];
  // bench:quant names the model directory's own files fp32/int8; int8 there is the chosen variant.
  const chosen = (manifestRaw.quantization as { chosen?: string } | undefined)?.chosen;
  const nodeMedian = (runtime: string, variant: string) =>
    (nodeRows.find((n) => n.runtime === runtime && n.variant === variant) ??
      (variant === chosen ? nodeRows.find((n) => n.runtime === runtime && n.variant === "int8") : undefined))?.median_ms ?? null;
  const rows = workers.map((x) => ({
    variant: x.v.name,
    bytes: x.v.bytes,
    psnr_db: x.v.psnr_db ?? null,
    ssim: x.v.ssim ?? null,
    ...(x.error
      ? { error: x.error }
      : {
          workerd_infer_median_ms: median(x.infer),
          workerd_infer_mean_ms: r2(mean(x.infer)),
          workerd_http_median_ms: r2(median(x.http)),
        }),
    ort_node_median_ms: nodeMedian("onnxruntime-node", x.v.name),
    ort_web_node_median_ms: nodeMedian("onnxruntime-web (wasm, Node)", x.v.name),
  }));
  console.log(`\nstudent of ${manifest.id} (${manifest.resolution}px, img_${manifest.resolution}) in workerd (Miniflare, onnxruntime-web wasm, 1 thread), ${RUNS} interleaved warm cache misses per variant`);
  console.log(`${"variant".padEnd(12)} ${"bytes".padStart(9)} ${"PSNR dB".padStart(8)} ${"infer p50".padStart(9)} ${"infer mean".padStart(10)} ${"HTTP p50".padStart(9)} ${"ORT-node p50".padStart(12)} ${"ORT-web/Node p50".padStart(16)}`);
  for (const r of rows) {
    const f = (x: number | null | undefined) => (x == null ? "-" : String(x));
    console.log(`${r.variant.padEnd(12)} ${String(r.bytes).padStart(9)} ${f(r.psnr_db).padStart(8)} ${f("error" in r ? null : r.workerd_infer_median_ms).padStart(9)} ${f("error" in r ? null : r.workerd_infer_mean_ms).padStart(10)} ${f("error" in r ? null : r.workerd_http_median_ms).padStart(9)} ${f(r.ort_node_median_ms).padStart(12)} ${f(r.ort_web_node_median_ms).padStart(16)}${"error" in r ? `  ERROR ${r.error}` : ""}`);
  }
  const result = {
    model: manifest.id,
    resolution: manifest.resolution,
    output: `img_${manifest.resolution}`,
    created: new Date().toISOString(),
    machine: "2 shared CPU cores (busy with other jobs), workerd via Miniflare, onnxruntime-web wasm SIMD, 1 thread",
    runs: RUNS,
    warmup: WARMUP,
    variants_from: source,
    note: "infer: Server-Timing from inside workerd (whole-ms clock); http: client time of the whole cache miss (seed -> PNG). Workers ran side by side, rounds interleaved.",
    node_figures_from: existsSync(nodeBench) ? `bench/results/quant-variants-${manifest.id}.json` : null,
    edge_precision_reported: Object.fromEntries(workers.map((x) => [x.v.name, x.precision ?? null])),
    rows,
  };
  const out = join(REPO, "bench/results/quant-workerd.json");
  mkdirSync(join(REPO, "bench/results"), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
  log(`wrote ${out}`);
}

main().catch((e) => {
  console.error(e);
  rmSync(scratch, { recursive: true, force: true });
  process.exit(1);
});
