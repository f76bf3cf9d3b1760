#!/usr/bin/env node
// face-api's own face descriptor on given chips, to check the PyTorch port (training/seedface/models/face_descriptor.py).
//
//   node scripts/face-descriptor-parity.cjs CHIPS.npy OUT.json
//
// CHIPS.npy: uint8 [N, 150, 150, 3] RGB. Writes OUT.json: {faceapi, tfjs, descriptors: [[128 floats], ...]} from
// faceapi.nets.faceRecognitionNet.computeFaceDescriptor on each chip (tfjs WASM backend, one thread; the weights
// ship inside @vladmandic/face-api). CommonJS for the same reason as scripts/face-attributes-judge.cjs.
"use strict";
const fs = require("fs");
const path = require("path");
const { readNpyU8, load } = require("./face-attributes-judge.cjs");

async function main() {
  const [inFile, outFile] = process.argv.slice(2);
  if (!inFile || !outFile) {
    console.error("usage: node scripts/face-descriptor-parity.cjs CHIPS.npy OUT.json");
    process.exit(2);
  }
  const { shape, data } = readNpyU8(inFile);
  const [n, h, w, c] = shape;
  if (h !== 150 || w !== 150 || c !== 3) throw new Error(`${inFile}: expected [N, 150, 150, 3], got [${shape}]`);
  const { tf, faceapi } = await load({ nets: ["faceRecognitionNet"] });
  const descriptors = [];
  for (let i = 0; i < n; i++) {
    const t = tf.tensor3d(data.subarray(i * h * w * 3, (i + 1) * h * w * 3), [h, w, 3], "int32");
    try {
      descriptors.push(Array.from(await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(t)));
    } finally {
      t.dispose();
    }
  }
  fs.writeFileSync(outFile, JSON.stringify({ faceapi: faceapi.version, tfjs: tf.version_core, backend: tf.getBackend(), descriptors }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
