// A complete build (worker + static assets with embed.js, its render worker, ORT's browser files and the browser's
// model copy) for another models directory, in a scratch folder: the repository's dist/ and dist-assets/ keep the
// default model for the other suites. Used by the browser tests and bench/embed.ts to serve the FFHQ model as the
// default without touching models/default.json.
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, buildWorker, sh } from "./worker.js";

export const FFHQ = join(REPO, "models/ffhq");
export const hasFfhq = existsSync(join(FFHQ, "manifest.json"));

/** <root>/default.json naming `id`, and <root>/<id> a symlink to the model directory `src`. */
export function linkedModels(root: string, id: string, src: string): string {
  mkdirSync(root, { recursive: true });
  const link = join(root, id);
  if (!existsSync(link)) symlinkSync(src, link);
  writeFileSync(join(root, "default.json"), JSON.stringify({ default: id }));
  return root;
}

export interface FullBuild {
  dist: string;
  assets: string;
  log: string;
}

/**
 * `npm run build` for `modelsDir` inside `dir`: the worker (buildWorker, which also puts asset-served weights into
 * dir/dist-assets) and then scripts/build-embed.ts run in the copy, so its output lands in dir/dist-assets. ORT's
 * gzip-compressed browser files are reused from the repository's dist-assets/ when present (same bytes).
 */
export async function buildWithEmbed(dir: string, modelsDir: string, env: Record<string, string> = {}): Promise<FullBuild> {
  const worker = await buildWorker(dir, modelsDir, env);
  cpSync(join(REPO, "scripts"), join(dir, "scripts"), { recursive: true });
  const ortVersion = (JSON.parse(readFileSync(join(REPO, "node_modules/onnxruntime-web/package.json"), "utf8")) as { version: string }).version;
  const ort = join(REPO, "dist-assets/embed/ort", ortVersion);
  if (existsSync(ort)) cpSync(ort, join(dir, "dist-assets/embed/ort", ortVersion), { recursive: true, preserveTimestamps: true });
  const log = await sh(join(dir, "node_modules/.bin/tsx"), [join(dir, "scripts/build-embed.ts")], {
    cwd: dir,
    env: { SEEDFACE_MODELS_DIR: modelsDir, ...env },
  });
  return { dist: worker.dist, assets: worker.assets, log: worker.log + log };
}
