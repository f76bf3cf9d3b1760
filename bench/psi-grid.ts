// Contact sheet for choosing the default psi by eye: rows = seeds, columns = psi values, drawn by the built worker
// in workerd. Usage: npm run grid:psi [-- --size 96 --seeds 6]   Writes bench/results/psi-grid.png.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodePng } from "../src/shared/png.js";
import { decodePng, rgbOf } from "../test/helpers/png.js";
import { REPO, startWorker } from "../harness/worker.js";
import { flags } from "../harness/flags.js";

const FLAGS = flags(["size", "seeds"], "npm run grid:psi [-- --size 96 --seeds 6]");
const arg = (name: keyof typeof FLAGS, fallback: number): number => Number(FLAGS[name] ?? fallback);
const size = arg("size", 96), nSeeds = arg("seeds", 6);
const psis = [0.3, 0.5, 0.6, 0.7, 0.8, 1.0];
const seeds = Array.from({ length: nSeeds }, (_, i) => `psi-grid-${i}`);
const gap = 2, W = psis.length * (size + gap) + gap, H = seeds.length * (size + gap) + gap;
const sheet = new Uint8Array(W * H * 3).fill(255);

const w = await startWorker();
try {
  for (const [r, seed] of seeds.entries()) {
    for (const [c, psi] of psis.entries()) {
      const res = await fetch(`${w.url}/face/${seed}.png?size=${size}&psi=${psi}`);
      const rgb = rgbOf(decodePng(new Uint8Array(await res.arrayBuffer())));
      const x0 = gap + c * (size + gap), y0 = gap + r * (size + gap);
      for (let y = 0; y < size; y++) sheet.set(rgb.subarray(y * size * 3, (y + 1) * size * 3), ((y0 + y) * W + x0) * 3);
    }
    process.stdout.write(`row ${r + 1}/${seeds.length}\n`);
  }
} finally {
  await w.dispose();
}
mkdirSync(join(REPO, "bench/results"), { recursive: true });
const out = join(REPO, "bench/results/psi-grid.png");
writeFileSync(out, await encodePng(sheet, W, H));
console.log(`columns psi = ${psis.join(", ")}; wrote ${out}`);
