// Assembles wasm/: the WebAssembly modules the edge loads (onnxruntime-web's SIMD build, the image codecs), copied
// from their pinned npm packages, each checked against wasm/manifest.json (sha256, size, SIMD or not). Run by
// npm's pretypecheck / prebuild / prestart / preorigin, so a clean checkout (CI) gets it before anything needs it.
// Usage: tsx scripts/build-wasm.ts [--update]   (--update rewrites the manifest's sha256 after a deliberate upgrade)
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { usesSimd } from "../src/shared/wasm-info.js";

const REPO = resolve(import.meta.dirname, "..");
const WASM = join(REPO, "wasm");

interface Entry {
  file: string;
  package: string;
  version: string;
  path: string;
  what: string;
  simd: boolean;
  bytes: number;
  sha256: string;
}

const manifestPath = join(WASM, "manifest.json");
const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { files: Entry[] };
const update = process.argv.includes("--update");
const problems: string[] = [];

for (const e of manifest.files) {
  const pkgDir = join(REPO, "node_modules", e.package);
  const version = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version as string;
  if (version !== e.version && !update) problems.push(`${e.file}: ${e.package} is ${version}, manifest pins ${e.version}`);
  const src = join(pkgDir, e.path);
  if (!existsSync(src)) {
    problems.push(`${e.file}: ${src} is missing`);
    continue;
  }
  const bytes = readFileSync(src);
  const sha = createHash("sha256").update(bytes).digest("hex");
  const simd = usesSimd(new Uint8Array(bytes));
  if (!WebAssembly.validate(bytes)) problems.push(`${e.file}: not a valid WebAssembly module`);
  if (update) {
    Object.assign(e, { version, sha256: sha, bytes: bytes.length, simd });
  } else {
    if (sha !== e.sha256) problems.push(`${e.file}: sha256 ${sha} differs from the manifest's ${e.sha256}`);
    if (simd !== e.simd) problems.push(`${e.file}: ${simd ? "uses" : "does not use"} SIMD, the manifest says simd=${e.simd}`);
  }
  const dst = join(WASM, e.file);
  const have = existsSync(dst) ? createHash("sha256").update(readFileSync(dst)).digest("hex") : "";
  if (have !== sha) copyFileSync(src, dst);
}
if (update) writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
if (problems.length) {
  console.error(`wasm/: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log(`wasm/: ${manifest.files.length} modules checked (sha256, SIMD): ${manifest.files.map((e) => e.file).join(", ")}`);
