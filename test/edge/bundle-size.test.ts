// The worker bundle (dist/, `npm run build`) stays within Cloudflare's 10 MB gzip limit (paid plan) with the codecs
// and ORT's wasm in it, and the wasm modules in it are exactly the checked files of wasm/ (scripts/build-wasm.ts).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { DIST, REPO } from "../../harness/worker.js";

const LIMIT = 10 * 1024 * 1024;

describe("worker bundle", () => {
  it("is at most 10 MB gzip, and bundles wasm/'s ORT and codec modules byte for byte", () => {
    let gz = 0;
    const shas = new Set<string>();
    for (const f of readdirSync(DIST)) {
      if (f.endsWith(".map") || f.endsWith(".md")) continue;
      const b = readFileSync(join(DIST, f));
      gz += gzipSync(b, { level: 6 }).length;
      if (f.endsWith(".wasm")) shas.add(createHash("sha256").update(b).digest("hex"));
    }
    console.log(`dist/: ${(gz / 2 ** 20).toFixed(2)} MiB gzip`);
    expect(gz).toBeLessThanOrEqual(LIMIT);
    const manifest = JSON.parse(readFileSync(join(REPO, "wasm/manifest.json"), "utf8")) as { files: { file: string; sha256: string; simd: boolean }[] };
    for (const e of manifest.files) {
      expect(shas.has(e.sha256), `${e.file} is not in dist/ as checked`).toBe(true);
      expect(createHash("sha256").update(readFileSync(join(REPO, "wasm", e.file))).digest("hex")).toBe(e.sha256);
    }
    expect(manifest.files.find((e) => e.file.startsWith("ort-"))?.simd).toBe(true);
  });
});
