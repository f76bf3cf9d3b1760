// `npm run bench [-- --skip edge,origin,formats,openvino,models,quant,load,embed --load-duration 30 --load-connections 200 --report-only]`
// Runs every benchmark in turn (edge, origin, origin vs OpenVINO, models report, quantization, load, the page cost of
// <seed-face>), then writes docs/benchmarks.md
// from bench/results/*.json: machine, versions, every table, and the ratios side by side. --report-only rebuilds
// the report from the JSON already there. The quantization variant study (bench/results/quant-variants-<id>.json,
// made from `npm run quantize -- --keep-variants`) is kept when it holds more variants than a plain re-run would
// measure; --quant forces the re-run.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { parseFlags } from "../harness/flags.js";
import { renderReport } from "./report.js";

const REPO = join(import.meta.dirname, "..");
const { values: FLAGS } = parseFlags({
  strings: ["skip", "load-duration", "load-connections"],
  booleans: ["report-only", "quant"],
  usage: "npm run bench [-- --skip edge,origin,formats,openvino,models,quant,load,embed --load-duration 30 --load-connections 200 --quant --report-only]",
});
const arg = (name: "skip" | "load-duration" | "load-connections", def: string): string => FLAGS[name] ?? def;
const skip = new Set(arg("skip", "").split(",").filter(Boolean));
const reportOnly = FLAGS["report-only"];
const modelId = (JSON.parse(readFileSync(join(REPO, "models/default.json"), "utf8")) as { default: string }).default;

function step(name: string, cmd: string, args: string[], env: Record<string, string> = {}): { name: string; ok: boolean; seconds: number } {
  const t0 = Date.now();
  process.stderr.write(`\n=== [${name}] ${cmd} ${args.join(" ")}\n`);
  const r = spawnSync(cmd, args, { cwd: REPO, stdio: "inherit", env: { ...process.env, ...env } });
  const seconds = (Date.now() - t0) / 1000;
  const ok = r.status === 0;
  process.stderr.write(`=== [${name}] ${ok ? "done" : `FAILED (exit ${r.status})`} in ${seconds.toFixed(0)} s\n`);
  return { name, ok, seconds };
}

function quantVariantCount(): number {
  const f = join(REPO, `bench/results/quant-variants-${modelId}.json`);
  if (!existsSync(f)) return 0;
  return Object.keys((JSON.parse(readFileSync(f, "utf8")) as { sizes?: object }).sizes ?? {}).length;
}

function versions(): Record<string, string> {
  const pkg = (name: string) => {
    try {
      return (JSON.parse(readFileSync(join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    } catch {
      return "not installed";
    }
  };
  let python = "unknown";
  try {
    python = execFileSync(join(REPO, "training/.venv/bin/python"), ["-c",
      "import sys, torch, onnx, onnxruntime, numpy; print(f'python {sys.version.split()[0]}, torch {torch.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, numpy {numpy.__version__}')"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    /* the report says unknown */
  }
  return {
    node: process.version,
    "onnxruntime-web": pkg("onnxruntime-web"),
    "onnxruntime-node": pkg("onnxruntime-node"),
    wrangler: pkg("wrangler"),
    miniflare: pkg("miniflare"),
    workerd: pkg("@cloudflare/workerd-linux-64"),
    hono: pkg("hono"),
    autocannon: pkg("autocannon"),
    training: python,
  };
}

function main() {
  const steps: { name: string; ok: boolean; seconds: number }[] = [];
  if (!reportOnly) {
    const run = (name: string, cmd: string, args: string[], env?: Record<string, string>) => {
      if (!skip.has(name)) steps.push(step(name, cmd, args, env));
    };
    steps.push(step("build", "npm", ["run", "build"]));
    run("edge", "npx", ["tsx", "bench/edge.ts"]);
    run("origin", "npx", ["tsx", "bench/origin.ts"]);
    run("formats", "npx", ["tsx", "bench/formats.ts"]);
    run("openvino", "npx", ["tsx", "bench/openvino.ts"]);
    run("models", "npm", ["run", "report:models"]);
    if (!skip.has("quant")) {
      if (FLAGS.quant || quantVariantCount() <= 2) run("quant", "npm", ["run", "bench:quant", "--", `models/${modelId}`, "--runs", "20"]);
      else process.stderr.write(`\n=== [quant] kept bench/results/quant-variants-${modelId}.json (${quantVariantCount()} variants); --quant re-runs it\n`);
    }
    run("load", "npx", ["tsx", "bench/load.ts", "--duration", arg("load-duration", "30"), "--connections", arg("load-connections", "200")]);
    // 20 <seed-face> on a page in headless Chromium: <img> vs in-browser WASM / WebGPU, FFHQ model.
    if (existsSync(join(REPO, "models/ffhq/manifest.json"))) run("embed", "npx", ["tsx", "bench/embed.ts"]);
  }
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", memory_gib: +(totalmem() / 2 ** 30).toFixed(1), loadavg: loadavg() };
  const { markdown, summary } = renderReport(REPO, modelId, { machine, versions: versions(), steps });
  writeFileSync(join(REPO, "docs/benchmarks.md"), markdown);
  writeFileSync(join(REPO, "bench/results/summary.json"), JSON.stringify(summary, null, 2) + "\n");
  console.log(markdown.split("\n## ")[1] ? `\n## ${markdown.split("\n## ")[1]}` : markdown);
  console.log("wrote docs/benchmarks.md and bench/results/summary.json");
  if (steps.some((s) => !s.ok)) process.exitCode = 1;
}

main();
