// Which model a suite runs on, and the edge worker built for it. The default model (models/default.json, FFHQ 1024)
// has no teacher network; suites that need one (model=teacher at the edge and the origin, the edge's fallback and
// fault paths) run on faces64, the only model with a teacher, and pair an edge built for faces64 with an origin
// loading faces64, so that both draw from the same networks.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { edgeNetworkFile, parseManifest } from "../src/shared/manifest.js";
import type { Manifest } from "../src/shared/manifest.js";
import { buildWorker, DIST, REPO } from "./worker.js";

/** The repository's models root (what `npm run build` bundles). */
export const MODELS = join(REPO, "models");
export const FACES64_DIR = join(MODELS, "faces64");

/** The model id a models root's default.json names. */
export function defaultModelId(root = MODELS): string {
  return (JSON.parse(readFileSync(join(root, "default.json"), "utf8")) as { default: string }).default;
}

/** The parsed manifest of a models root's default model (or of the model `id` in it). */
export function modelManifest(root = MODELS, id = defaultModelId(root)): Manifest {
  return parseManifest(JSON.parse(readFileSync(join(root, id, "manifest.json"), "utf8")));
}

/** Whether the model in `dir` has a teacher network whose file is on disk (faces64's is made by npm run models:faces64). */
export function teacherOnDisk(dir: string): boolean {
  const m = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as { networks: { teacher?: { files: { fp32: string } } } };
  return !!m.networks.teacher && existsSync(join(dir, m.networks.teacher.files.fp32));
}

export const hasFaces64Teacher = existsSync(join(FACES64_DIR, "manifest.json")) && teacherOnDisk(FACES64_DIR);

/**
 * A models root whose default is faces64 (default.json + a symlink to models/faces64), for an origin (`--models`) or
 * an edge build (SEEDFACE_MODELS_DIR) on faces64 without touching models/default.json.
 */
export function faces64Models(): string {
  const root = join(tmpdir(), `seedface-models-faces64-${createHash("sha256").update(FACES64_DIR).digest("hex").slice(0, 12)}`);
  mkdirSync(root, { recursive: true });
  const link = join(root, "faces64");
  if (!existsSync(link)) {
    try {
      symlinkSync(FACES64_DIR, link);
    } catch (e) {
      if (!existsSync(link)) throw e; // another process made it first
    }
  }
  const def = join(root, "default.json");
  if (!existsSync(def)) writeFileSync(def, JSON.stringify({ default: "faces64" }));
  return root;
}

export interface EdgeBuild {
  /** The `wrangler deploy --dry-run` output (for startWorker's distDir). */
  dist: string;
  /** Static assets of that build (asset-served weights, and for the repository build the embed files). */
  assets: string;
  /** The model the build serves. */
  manifest: Manifest;
}

function edgeFilesSha(root: string): string[] {
  const m = modelManifest(root);
  return (["mapping", "student"] as const).map((n) => {
    const f = edgeNetworkFile(m, n).file;
    return `${f}:${m.files.find((e) => e.path === f)?.sha256 ?? "?"}`;
  });
}

/** Hash of what a worker build reads: the worker's sources and build config, and the model's manifest and edge files. */
function buildKey(root: string): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== "bundled-model.generated.ts") h.update(relative(REPO, p)).update(readFileSync(p));
    }
  };
  walk(join(REPO, "src"));
  walk(join(REPO, "scripts")); // the build step (scripts/gen-bundled-model.ts)
  for (const f of ["wrangler.toml", "package.json", "tsconfig.json", "tsconfig.base.json"]) h.update(f).update(readFileSync(join(REPO, f)));
  const id = defaultModelId(root);
  const dir = join(root, id);
  h.update(id).update(readFileSync(join(dir, "manifest.json")));
  const m = modelManifest(root);
  for (const n of ["mapping", "student"] as const) {
    const st = statSync(join(dir, edgeNetworkFile(m, n).file));
    h.update(`${st.size}:${st.mtimeMs}`);
  }
  return h.digest("hex").slice(0, 16);
}

const building = new Map<string, Promise<EdgeBuild>>();

/**
 * The edge worker for a models root: the repository's build (dist/, dist-assets/) when that root's default model has
 * the repository default's edge files (same sha256), else `npm run build`'s worker build for that root
 * (buildWorker), cached under the temp folder by a hash of the worker's sources and the model, so the suites that
 * need it share one build.
 */
export function edgeBuildFor(root: string): Promise<EdgeBuild> {
  const manifest = modelManifest(root);
  if (edgeFilesSha(root).join() === edgeFilesSha(MODELS).join() && manifest.id === modelManifest().id) {
    return Promise.resolve({ dist: DIST, assets: join(REPO, "dist-assets"), manifest });
  }
  const key = `${manifest.id}-${buildKey(root)}`;
  let p = building.get(key);
  if (!p) {
    p = (async () => {
      const out = join(tmpdir(), `seedface-edge-build-${key}`);
      if (!existsSync(join(out, "dist", "index.js"))) {
        const tmp = `${out}.tmp-${process.pid}`;
        rmSync(tmp, { recursive: true, force: true });
        await buildWorker(tmp, root);
        try {
          renameSync(tmp, out);
        } catch {
          rmSync(tmp, { recursive: true, force: true }); // another process got there first
        }
        pruneOldBuilds(out);
      }
      return { dist: join(out, "dist"), assets: join(out, "dist-assets"), manifest };
    })();
    p.catch(() => building.delete(key));
    building.set(key, p);
  }
  return p;
}

/** Remove cached builds of other sources that were not used for a day. */
function pruneOldBuilds(keep: string): void {
  const day = 24 * 3600 * 1000;
  for (const name of readdirSync(tmpdir())) {
    const p = join(tmpdir(), name);
    if (!name.startsWith("seedface-edge-build-") || p === keep) continue;
    try {
      if (Date.now() - statSync(p).mtimeMs > day) rmSync(p, { recursive: true, force: true });
    } catch {
      // gone already
    }
  }
}

/** The edge build for faces64 (the model with a teacher). */
export function faces64Edge(): Promise<EdgeBuild> {
  return edgeBuildFor(faces64Models());
}

/**
 * An edge build whose model has a teacher network (model=teacher goes to the origin, and its failures to the edge's
 * degraded paths): the repository's build when the default model has one, else faces64's. For fake or faulty
 * origins; against the real origin, pair harness/origin.ts startTeacherOrigin with teacherEdge.
 */
export function edgeWithTeacher(): Promise<EdgeBuild> {
  return modelManifest().networks.teacher ? edgeBuildFor(MODELS) : faces64Edge();
}
