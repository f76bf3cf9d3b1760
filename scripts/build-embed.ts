// Builds the browser side into dist-assets/ (served by the worker through its ASSETS binding, see
// src/edge/embed-routes.ts): the <seed-face> module, its render worker, the playground, onnxruntime-web's browser
// runtime and the browser's copy of the default model. Runs before `wrangler deploy` (npm `prebuild`).
import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { copyChecked, modelAssetRel } from "./build-assets.js";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const out = join(root, "dist-assets");
const ortDist = join(root, "node_modules/onnxruntime-web/dist");
const ortVersion = (JSON.parse(readFileSync(join(ortDist, "..", "package.json"), "utf8")) as { version: string }).version;

// The browser runs either the JSEP build (WebGPU EP + WASM EP; ort.webgpu in 1.30 is the asyncify/native-WebGPU
// build whose minified glue calls a mangled method and crashes) or the plain WASM build; the glue is
// bundled into the .mjs, so each needs exactly one .wasm file next to it.
const ORT_FILES = [
  "ort.bundle.min.mjs", "ort-wasm-simd-threaded.jsep.wasm",
  "ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm",
];

function log(msg: string): void {
  process.stdout.write(`[build:embed] ${msg}\n`);
}

function newer(src: string, dst: string): boolean {
  return !existsSync(dst) || statSync(src).mtimeMs > statSync(dst).mtimeMs;
}

function servedModel(): string | null {
  const modelsDir = resolve(root, process.env.SEEDFACE_MODELS_DIR ?? "models");
  try {
    const id = (JSON.parse(readFileSync(join(modelsDir, "default.json"), "utf8")) as { default: string }).default;
    const version = (JSON.parse(readFileSync(join(modelsDir, id, "manifest.json"), "utf8")) as { version: string }).version;
    return `${id}@${version}`;
  } catch {
    return null;
  }
}

async function bundle(): Promise<void> {
  const t0 = Date.now();
  await build({
    entryPoints: {
      "embed": join(root, "src/embed/embed.ts"),
      "embed/face-worker": join(root, "src/embed/face-worker.ts"),
      "embed/playground": join(root, "src/embed/playground.ts"),
    },
    outdir: out,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    // The model the edge serves (the default, as gen-bundled-model.ts picks it): <seed-face> and faceUrl() build
    // versioned URLs with it.
    define: { __ORT_VERSION__: JSON.stringify(ortVersion), __SEEDFACE_MODEL__: JSON.stringify(servedModel()) },
    logLevel: "warning",
  });
  copyFileSync(join(root, "src/embed/playground.html"), join(out, "embed/playground.html"));
  log(`bundled embed.js, face-worker.js, playground in ${Date.now() - t0} ms`);
}

// .wasm files are stored gzip-compressed (the 28 MB JSEP build is over the 25 MiB static-asset file limit);
// the worker serves them with Content-Encoding: gzip.
function copyOrt(): void {
  const dir = join(out, "embed/ort", ortVersion);
  mkdirSync(dir, { recursive: true });
  for (const f of ORT_FILES) {
    const src = join(ortDist, f);
    const dst = join(dir, f.endsWith(".wasm") ? `${f}.gz` : f);
    if (!newer(src, dst)) continue;
    const t0 = Date.now();
    writeFileSync(dst, f.endsWith(".wasm") ? gzipSync(readFileSync(src), { level: 6 }) : readFileSync(src));
    log(`ort ${f} -> ${statSync(dst).size} bytes (${Date.now() - t0} ms)`);
  }
}

function copyModels(): void {
  // SEEDFACE_MODELS_DIR: another models/ directory (development and tests); default: the repository's models/.
  const modelsDir = resolve(root, process.env.SEEDFACE_MODELS_DIR ?? "models");
  const defaultJson = join(modelsDir, "default.json");
  if (!existsSync(defaultJson)) {
    log("models/default.json missing: no browser model (the component falls back to <img>)");
    writeFileSync(join(out, "embed/models.json"), JSON.stringify({ default: null }));
    return;
  }
  const id = (JSON.parse(readFileSync(defaultJson, "utf8")) as { default: string }).default;
  const srcDir = join(modelsDir, id);
  const manifest = JSON.parse(readFileSync(join(srcDir, "manifest.json"), "utf8")) as {
    version: string;
    resolution: number;
    networks: Record<string, { files: Record<string, string>; edge_precision?: string; serving?: { edge_max_size?: number } } | null>;
    files?: { path: string; sha256?: string; bytes?: number }[];
  };
  const student = manifest.networks.student;
  if (!student) {
    log(`model ${id} is teacher-only: no browser model (the component falls back to <img>)`);
    writeFileSync(join(out, "embed/models.json"), JSON.stringify({ default: null }));
    return;
  }
  // What the browser loads: mapping and student in the edge's precisions (same faces as the edge; the same files
  // the edge fetches from here when its weights are not bundled, see scripts/gen-bundled-model.ts).
  // The teacher stays on the origin.
  const edgeFile = (net: { files: Record<string, string>; edge_precision?: string }) => net.files[net.edge_precision ?? "fp32"] ?? net.files.fp32!;
  const attributes = (manifest as { attributes?: { file?: string } }).attributes?.file;
  // ... and the attribute directions when the model has them (src/shared/attributes.ts, ~30 KB).
  const wanted = ["manifest.json", edgeFile(manifest.networks.mapping!), edgeFile(student), ...(attributes ? [attributes] : [])];
  // Versioned path (version + manifest hash, which covers every file's sha256): the files under it never change,
  // so browsers may cache them immutably even if a model is re-exported under the same version.
  const rel = modelAssetRel(srcDir, id, manifest.version);
  const dst = join(out, rel);
  rmSync(join(out, "embed/models"), { recursive: true, force: true });
  mkdirSync(dst, { recursive: true });
  const files: Record<string, string> = {};
  for (const f of wanted) {
    const entry = manifest.files?.find((e) => e.path === f);
    files[f] = copyChecked(join(srcDir, f), join(dst, f), { sha256: entry?.sha256, bytes: entry?.bytes }).sha256;
  }
  // files: name -> full SHA-256, checked by the browser on download and on every read from Cache Storage.
  // max_size: the largest size the edge draws itself; <seed-face> leaves larger sizes to the edge's <img>.
  writeFileSync(join(out, "embed/models.json"), JSON.stringify({
    default: id, version: manifest.version, resolution: manifest.resolution,
    max_size: student.serving?.edge_max_size ?? manifest.resolution, path: `/${rel}/`, files,
  }));
  log(`model ${id} ${manifest.version}: ${Object.keys(files).join(", ")}`);
}

async function main(): Promise<void> {
  if (process.argv.includes("--clean")) rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "embed"), { recursive: true });
  await bundle();
  copyOrt();
  copyModels();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
