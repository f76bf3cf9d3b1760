// `npm run bench:formats [-- --seeds 6 --sizes 64,128,256,512,1024]`: bytes, encode time and fidelity of every face
// format per size, over real faces of the default model (drawn by the origin's fp32 pipeline in this process, the
// same pixels the origin encodes), with the settings the edge and origin serve (src/shared/codecs.ts QUALITY) and
// a quality sweep per lossy codec that the defaults were chosen from. Fidelity: PSNR and SSIM (luma, 8x8 windows)
// against the lossless pixels, decoded by sharp (libvips: libwebp, mozjpeg, libheif/aom), independent of our codecs.
// Writes bench/results/formats.json; docs/benchmarks.md shows it (bench/report.ts). Target: 128 px WebP <= 4 KB.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import sharp from "sharp";
import { BatchingRunner } from "../src/origin/batching-runner.js";
import { loadModel } from "../src/origin/models.js";
import type { Format } from "../src/shared/codecs.js";
import { encodeImage, encoderOptions, FORMATS, QUALITY, setCodecOverrides } from "../src/shared/codecs.js";
import { installNodeCodecs } from "../src/origin/codecs-node.js";
import { renderFacePixels } from "../src/shared/face.js";
import { parseFaceRequest } from "../src/shared/params.js";
import { flags } from "../harness/flags.js";

const REPO = join(import.meta.dirname, "..");
const FLAGS = flags(["seeds", "sizes", "model"], "npm run bench:formats [-- --seeds 6 --sizes 64,128,256,512,1024 --model <id>]");
const arg = (name: keyof typeof FLAGS, def: string): string => FLAGS[name] ?? def;
const nSeeds = Number(arg("seeds", "6"));
const sizes = arg("sizes", "64,128,256,512,1024").split(",").map(Number);
const sweepSizes = [128, 512];
const SWEEP: Record<Exclude<Format, "png">, number[]> = { webp: [60, 70, 75, 80, 85, 90], jpeg: [70, 75, 80, 85, 90], avif: [40, 50, 60, 70] };
const TARGET_WEBP_128 = 4096;

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255) / (se / a.length));
}

function luma(rgb: Uint8Array): Float64Array {
  const y = new Float64Array(rgb.length / 3);
  for (let i = 0; i < y.length; i++) y[i] = 0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!;
  return y;
}

/** Mean SSIM over non-overlapping 8x8 windows of luma. */
function ssim(a: Uint8Array, b: Uint8Array, size: number): number {
  const ya = luma(a), yb = luma(b);
  const c1 = (0.01 * 255) ** 2, c2 = (0.03 * 255) ** 2;
  let sum = 0, n = 0;
  for (let by = 0; by + 8 <= size; by += 8) {
    for (let bx = 0; bx + 8 <= size; bx += 8) {
      let ma = 0, mb = 0;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) { const i = (by + y) * size + bx + x; ma += ya[i]!; mb += yb[i]!; }
      ma /= 64; mb /= 64;
      let va = 0, vb = 0, cov = 0;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) {
        const i = (by + y) * size + bx + x;
        va += (ya[i]! - ma) ** 2; vb += (yb[i]! - mb) ** 2; cov += (ya[i]! - ma) * (yb[i]! - mb);
      }
      va /= 63; vb /= 63; cov /= 63;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      n++;
    }
  }
  return sum / n;
}

async function decode(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await sharp(bytes).removeAlpha().raw().toBuffer());
}

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

interface Cell { format: Format; size: number; quality: number | null; bytes: number; encode_ms: number; psnr_db: number; ssim: number }

async function measure(format: Format, pixels: Uint8Array[], size: number): Promise<Omit<Cell, "format" | "size" | "quality">> {
  const bytes: number[] = [], ms: number[] = [], p: number[] = [], s: number[] = [];
  await encodeImage(format, pixels[0]!, size, size); // warm-up (wasm instantiation)
  for (const px of pixels) {
    const t0 = performance.now();
    const enc = await encodeImage(format, px, size, size);
    ms.push(performance.now() - t0);
    bytes.push(enc.length);
    const back = await decode(enc);
    p.push(Math.min(99, psnr(px, back)));
    s.push(ssim(px, back, size));
  }
  return { bytes: Math.round(median(bytes)), encode_ms: median(ms), psnr_db: median(p), ssim: median(s) };
}

/**
 * One request or two: an unversioned URL answered directly (200, short max-age) against a 302 to the versioned URL
 * and then that URL, both with the face in the edge's cache, in the built worker (dist/, Miniflare). A 302 is
 * measured on /favicon.ico, which is one. Localhost has no network round trip, which is what a redirect costs.
 */
async function redirectCost(): Promise<{ direct_p50_ms: number; redirect_p50_ms: number; runs: number } | null> {
  let w;
  try {
    const { startWorker } = await import("../harness/worker.js");
    w = await startWorker();
  } catch (e) {
    process.stderr.write(`redirect measurement skipped (${e instanceof Error ? e.message.split("\n")[0] : e})\n`);
    return null;
  }
  try {
    const m = ((await (await fetch(`${w.url}/v1/models`)).json()) as { models: { id: string; version: string }[] }).models[0]!;
    const direct = `${w.url}/face/seedface.png?size=32`;
    const versioned = `${w.url}/v/${m.id}@${m.version}/face/seedface.png?size=32`;
    await (await fetch(direct)).arrayBuffer();
    const a: number[] = [], b: number[] = [];
    const runs = 40;
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      await (await fetch(direct)).arrayBuffer();
      a.push(performance.now() - t0);
      t0 = performance.now();
      const r = await fetch(`${w.url}/favicon.ico`, { redirect: "manual" });
      await r.arrayBuffer();
      await (await fetch(versioned)).arrayBuffer();
      b.push(performance.now() - t0);
    }
    return { direct_p50_ms: median(a), redirect_p50_ms: median(b), runs };
  } finally {
    await w.dispose();
  }
}

async function main(): Promise<void> {
  installNodeCodecs();
  const modelId = arg("model", JSON.parse((await import("node:fs")).readFileSync(join(REPO, "models/default.json"), "utf8")).default);
  const model = await loadModel(join(REPO, "models", modelId), "cpu", 2, () => undefined);
  const runner = new BatchingRunner(model.networks, { windowMs: 0, maxBatch: 1, maxQueue: 100 });
  const seeds = Array.from({ length: nSeeds }, (_, i) => `bench-format-${i}@example.com`);
  const faces = new Map<number, Uint8Array[]>();
  for (const size of [...new Set([...sizes, ...sweepSizes])]) {
    const px: Uint8Array[] = [];
    for (const seed of seeds) {
      const req = parseFaceRequest(`${encodeURIComponent(seed)}.png`, new URLSearchParams(`size=${size}`), { psi: model.manifest.truncation.default_psi });
      px.push(await renderFacePixels(runner.forRequest(performance.now() + 600_000), model.manifest, req));
    }
    faces.set(size, px);
    process.stderr.write(`drew ${nSeeds} faces at ${size} px\n`);
  }

  const served: Cell[] = [];
  for (const size of sizes) {
    for (const format of FORMATS) {
      const r = await measure(format, faces.get(size)!, size);
      const q = format === "png" ? null : QUALITY[format].quality;
      served.push({ format, size, quality: q, ...r });
      process.stderr.write(`${size} px ${format}: ${r.bytes} B, ${r.encode_ms.toFixed(1)} ms, ${r.psnr_db.toFixed(1)} dB\n`);
    }
  }
  const sweep: Cell[] = [];
  for (const size of sweepSizes) {
    for (const format of ["webp", "jpeg", "avif"] as const) {
      for (const quality of SWEEP[format]) {
        setCodecOverrides({ [format]: { quality } });
        sweep.push({ format, size, quality, ...(await measure(format, faces.get(size)!, size)) });
      }
      setCodecOverrides({});
    }
  }

  const redirect = await redirectCost();

  const webp128 = served.find((c) => c.format === "webp" && c.size === 128);
  const target = { webp_128_max_bytes: TARGET_WEBP_128, webp_128_bytes: webp128?.bytes ?? null, ok: webp128 !== undefined && webp128.bytes <= TARGET_WEBP_128 };
  const result = {
    date: new Date().toISOString(),
    model: `${model.manifest.id}@${model.manifest.version}`,
    seeds: nSeeds,
    note: "median over seeds; pixels from the origin's fp32 pipeline; fidelity vs the lossless pixels, decoded by sharp",
    options: Object.fromEntries((["webp", "jpeg", "avif"] as const).map((f) => [f, encoderOptions(f)])),
    served,
    sweep,
    target,
    redirect,
  };
  mkdirSync(join(REPO, "bench/results"), { recursive: true });
  writeFileSync(join(REPO, "bench/results/formats.json"), JSON.stringify(result, null, 2) + "\n");

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  console.log(`\nformats, ${result.model}, median of ${nSeeds} faces (bytes | encode ms | PSNR dB | SSIM)`);
  console.log(`${"size".padEnd(6)}${FORMATS.map((f) => pad(f, 34)).join("")}`);
  for (const size of sizes) {
    const row = FORMATS.map((f) => {
      const c = served.find((x) => x.format === f && x.size === size)!;
      return pad(`${c.bytes} | ${c.encode_ms.toFixed(1)} | ${c.psnr_db >= 99 ? "lossless" : c.psnr_db.toFixed(1)} | ${c.ssim.toFixed(3)}`, 34);
    });
    console.log(`${String(size).padEnd(6)}${row.join("")}`);
  }
  if (redirect) console.log(`\nunversioned URL, cached face: 200 directly p50 ${redirect.direct_p50_ms.toFixed(1)} ms; 302 + versioned 200 p50 ${redirect.redirect_p50_ms.toFixed(1)} ms (localhost: no network RTT)`);
  console.log(`\ntarget: 128 px WebP ${target.webp_128_bytes} B <= ${TARGET_WEBP_128} B: ${target.ok ? "OK" : "MISSED"}`);
  if (!target.ok) process.exit(1);
}

await main();
