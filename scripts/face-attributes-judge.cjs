#!/usr/bin/env node
// The attribute judge: @vladmandic/face-api (tiny face detector, 68-point landmarks, age/gender net,
// expression net; the weights ship inside the npm package) on tfjs's WASM backend, in Node.
//
//   node scripts/face-attributes-judge.cjs DIR [--watch]
//
// Detector: tinyFaceDetector at input 256 on the face padded by 64 px of gray (SSD MobileNet costs ~6x more on these
// CPUs; unpadded, the tiny detector misses a third of the faces, which fill the frame). Judges every DIR/chunk_NNNN.npy (uint8 [N, H, W, 3] RGB faces, written by training/seedface/attributes_label.py and
// attributes_eval.py) into DIR/<name>.faceapi.json: one row per face
//   {detected, score, age, gender: "female"|"male", gender_p, expressions: {neutral, happy, ...}}.
// Chunks already judged are skipped (resumable). With --watch it keeps polling for new chunks until DIR/DONE
// exists and everything is judged, so rendering (Python) and judging (Node) run side by side.
// CommonJS because face-api's node-wasm build is a CommonJS bundle that require()s @tensorflow/tfjs.
"use strict";
const fs = require("fs");
const path = require("path");

const MIN_CONFIDENCE = 0.3;
const INPUT_SIZE = 256;
/** Gray border added around each face before detection: the tiny detector misses faces that fill the frame. */
const PAD = 64;

function readNpyU8(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString("latin1", 1, 6) !== "NUMPY") throw new Error(`${file}: not an .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + hlen);
  if (!/'descr':\s*'\|u1'/.test(header)) throw new Error(`${file}: expected dtype |u1 (${header})`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Uint8Array(buf.buffer, buf.byteOffset + start + hlen, shape.reduce((a, b) => a * b, 1));
  return { shape, data };
}

const JUDGE_NETS = ["tinyFaceDetector", "faceLandmark68Net", "ageGenderNet", "faceExpressionNet"];

/** tfjs on WASM (one thread) + face-api with `nets` (names of faceapi.nets) loaded from the package's model/. */
async function load({ nets = JUDGE_NETS } = {}) {
  const tf = require("@tensorflow/tfjs");
  const wasm = require("@tensorflow/tfjs-backend-wasm");
  const faceapi = require("@vladmandic/face-api/dist/face-api.node-wasm.js");
  const wasmDir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm"));
  // tfjs fetches the .wasm binary; Node's fetch has no file: scheme, so serve the package's own file from disk.
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => {
    const u = String(url);
    if (u.startsWith(wasmDir)) return new Response(fs.readFileSync(u), { headers: { "content-type": "application/wasm" } });
    return realFetch(url, init);
  };
  wasm.setWasmPaths(wasmDir + path.sep, true);
  wasm.setThreadsCount?.(1);
  await tf.setBackend("wasm");
  await tf.ready();
  const modelDir = path.join(path.dirname(require.resolve("@vladmandic/face-api/package.json")), "model");
  for (const net of nets) await faceapi.nets[net].loadFromDisk(modelDir);
  return { tf, faceapi };
}

async function judgeOne({ tf, faceapi }, data, h, w) {
  const t = tf.tidy(() => tf.pad(tf.tensor3d(data, [h, w, 3], "int32"), [[PAD, PAD], [PAD, PAD], [0, 0]], 128));
  try {
    const r = await faceapi.detectSingleFace(t, new faceapi.TinyFaceDetectorOptions({ inputSize: INPUT_SIZE, scoreThreshold: MIN_CONFIDENCE }))
      .withFaceLandmarks().withFaceExpressions().withAgeAndGender();
    if (!r) return { detected: false };
    const ex = {};
    for (const [k, v] of Object.entries(r.expressions)) ex[k] = Math.round(v * 1e5) / 1e5;
    return {
      detected: true,
      score: Math.round(r.detection.score * 1e4) / 1e4,
      age: Math.round(r.age * 100) / 100,
      gender: r.gender,
      gender_p: Math.round(r.genderProbability * 1e4) / 1e4,
      expressions: ex,
    };
  } finally {
    t.dispose();
  }
}

async function judgeChunk(ctx, file) {
  const out = file.replace(/\.npy$/, ".faceapi.json");
  const { shape, data } = readNpyU8(file);
  const [n, h, w] = shape;
  const rows = [];
  for (let i = 0; i < n; i++) rows.push(await judgeOne(ctx, data.subarray(i * h * w * 3, (i + 1) * h * w * 3), h, w));
  fs.writeFileSync(out + ".tmp", JSON.stringify({ judge: judgeName(ctx), rows }));
  fs.renameSync(out + ".tmp", out);
  return n;
}

function judgeName({ tf, faceapi }) {
  return `@vladmandic/face-api ${faceapi.version} (tfjs ${tf.version_core} wasm): tinyFaceDetector (face padded by ${PAD} px gray, input ${INPUT_SIZE}, score >= ${MIN_CONFIDENCE}) + faceLandmark68Net + ageGenderNet + faceExpressionNet`;
}

async function main() {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith("--"));
  const watch = args.includes("--watch");
  if (!dir) {
    console.error("usage: node scripts/face-attributes-judge.cjs DIR [--watch]");
    process.exit(2);
  }
  const ctx = await load();
  const t0 = Date.now();
  let judged = 0;
  for (;;) {
    const todo = fs.readdirSync(dir).filter((f) => /^chunk_[A-Za-z0-9_-]+\.npy$/.test(f) && !fs.existsSync(path.join(dir, f.replace(/\.npy$/, ".faceapi.json")))).sort();
    for (const f of todo) {
      judged += await judgeChunk(ctx, path.join(dir, f));
      console.error(`[judge] ${f}: ${judged} faces judged (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    }
    if (!watch || (todo.length === 0 && fs.existsSync(path.join(dir, "DONE")))) break;
    if (todo.length === 0) await new Promise((r) => setTimeout(r, 2000));
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e?.stack ?? String(e));
    process.exit(1);
  });
}
module.exports = { readNpyU8, load, judgeOne };
