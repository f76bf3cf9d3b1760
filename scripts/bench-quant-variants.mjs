// Latency of the student's precision variants in onnxruntime-node (CPU) and onnxruntime-web (WASM, run in Node),
// one thread each, batch 1, interleaved runs, medians. Prints a table, writes bench/results/quant-variants-<id>.json.
//
//   npm run quantize -- models/default --keep-variants /tmp/variants   # writes student_<variant>.onnx there
//   npm run bench:quant -- models/default /tmp/variants [--runs 20]
// Without a variant directory it measures the model directory's own student_*.onnx files.
import fs from 'node:fs';
import path from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { parseFlags } from '../harness/flags.ts';

const { values: flags, positionals } = parseFlags({
  strings: ['runs'],
  positionals: 2,
  usage: 'npm run bench:quant -- [models/<id>] [VARIANT_DIR] [--runs 15]',
});
const runs = Number(flags.runs ?? 15);
const [modelDir = 'models/default', variantDir] = positionals;
const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, 'manifest.json'), 'utf8'));
const student = manifest.networks.student;
if (!student) throw new Error(`${modelDir}: no student network`);

const files = new Map([['fp32', path.join(modelDir, student.files.fp32)]]);
for (const dir of [modelDir, variantDir].filter(Boolean)) {
  for (const f of fs.readdirSync(dir).sort()) {
    const m = /^student_(.+)\.onnx$/.exec(f);
    if (m && m[1] !== 'fp32') files.set(m[1], path.join(dir, f));
  }
}

// Session config entries a variant asks for (e.g. weight-only: fold its DequantizeLinear nodes at load time).
const quant = manifest.quantization ?? {};
function sessionConfig(variant) {
  const entries = variant === 'int8' ? quant.session_config
    : (quant.variants ?? []).find((v) => v.name === variant)?.session_config;
  const extra = {};
  for (const [key, value] of Object.entries(entries ?? {})) {
    const [head, ...rest] = key.split('.');
    extra[head] = { ...(extra[head] ?? {}), [rest.join('.')]: value };
  }
  return Object.keys(extra).length ? { extra } : {};
}

function feeds(ort) {
  const out = {};
  for (const input of student.inputs) {
    const shape = input.shape.map((d) => (d === 'B' ? 1 : d));
    const n = shape.reduce((a, b) => a * b, 1);
    out[input.name] = new ort.Tensor('float32', Float32Array.from({ length: n }, (_, k) => Math.sin(k * 0.37) * 0.5), shape);
  }
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(name, ort, options) {
  // Initialise the runtime first (wasm compile etc.) so that no variant's create time includes it.
  await (await ort.InferenceSession.create(fs.readFileSync(files.get('fp32')), options)).run(feeds(ort));
  const sessions = [];
  for (const [variant, file] of files) {
    const t0 = performance.now();
    const session = await ort.InferenceSession.create(fs.readFileSync(file), { ...options, ...sessionConfig(variant) });
    await session.run(feeds(ort));
    sessions.push({ variant, session, create_and_first_ms: performance.now() - t0, times: [] });
  }
  for (let r = 0; r < runs; r++) {
    for (const s of sessions) {
      const input = feeds(ort);
      const t = performance.now();
      await s.session.run(input);
      s.times.push(performance.now() - t);
    }
  }
  return sessions.map((s) => ({ runtime: name, variant: s.variant, median_ms: +median(s.times).toFixed(2),
    create_and_first_ms: +s.create_and_first_ms.toFixed(1), runs }));
}

ortWeb.env.wasm.numThreads = 1;
const rows = [
  ...(await measure('onnxruntime-node', ortNode, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 })),
  ...(await measure('onnxruntime-web (wasm, Node)', ortWeb, { executionProviders: ['wasm'] })),
];
const sizes = Object.fromEntries([...files].map(([v, f]) => [v, fs.statSync(f).size]));
console.log(`student of ${manifest.id} (${manifest.resolution}px), batch 1, 1 thread, median of ${runs} runs`);
console.log(`${'runtime'.padEnd(30)} ${'variant'.padEnd(12)} ${'bytes'.padStart(10)} ${'median ms'.padStart(10)} ${'create+1st ms'.padStart(14)}`);
for (const r of rows) {
  console.log(`${r.runtime.padEnd(30)} ${r.variant.padEnd(12)} ${String(sizes[r.variant]).padStart(10)} ${r.median_ms.toFixed(2).padStart(10)} ${r.create_and_first_ms.toFixed(1).padStart(14)}`);
}
const outDir = path.join('bench', 'results');
fs.mkdirSync(outDir, { recursive: true });
const out = path.join(outDir, `quant-variants-${manifest.id}.json`);
fs.writeFileSync(out, JSON.stringify({ model: manifest.id, resolution: manifest.resolution, created: new Date().toISOString(),
  node: process.version, sizes, rows }, null, 2) + '\n');
console.log(`wrote ${out}`);
