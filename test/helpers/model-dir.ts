// Test model directories derived from the committed models/faces64: a student-only copy (no teacher network, as an
// imported release student) whose manifest has a `networks.student.serving` table, so the edge's asset-served
// weights, per-level sessions, level choice and size limit can be tested before a large model exists.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../../harness/worker.js";

export const FACES64 = join(REPO, "models/faces64");

/**
 * 16 px renders from img_32 (the plain rule would pick img_16), 17..48 px from img_32 too, and the edge draws up
 * to 48 px: above it the origin, or (no origin) the 32 px level upscaled.
 */
export const TEST_SERVING = {
  edge_max_size: 48,
  sizes: [
    { up_to: 16, output: "img_32" },
    { up_to: 48, output: "img_32" },
    { up_to: 64, output: "img_64" },
  ],
  note: "test table (free-form figures are allowed here)",
};

export interface TestModel {
  /** Models root (holds default.json). */
  models: string;
  dir: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  manifest: any;
}

/** Write <root>/<id>/ (faces64's mapping and students, no teacher, `serving` added) and <root>/default.json. */
export function teacherlessServingModel(root: string, id = "faces64", serving: unknown = TEST_SERVING): TestModel {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(FACES64, "manifest.json"), "utf8"));
  delete manifest.networks.teacher;
  manifest.files = manifest.files.filter((f: { network?: string }) => f.network !== "teacher");
  manifest.networks.student.serving = serving;
  for (const f of manifest.files as { path: string }[]) copyFileSync(join(FACES64, f.path), join(dir, f.path));
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest, null, 1));
  writeFileSync(join(root, "default.json"), JSON.stringify({ default: id }));
  return { models: root, dir, manifest };
}

export const hasFaces64 = existsSync(join(FACES64, "manifest.json"));
