// Build-time (Node only, never bundled into the worker): where a model's files go under dist-assets/, shared by
// scripts/build-embed.ts (the browser's copy) and scripts/gen-bundled-model.ts (the edge's weights when they are too
// large to bundle). Both use one versioned folder, embed/models/<id>/<version>-<manifest hash>/, so the edge and
// the browser fetch the same files and a re-exported model never reuses a cached path.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Path of a model's files under the assets directory (no leading slash), e.g. embed/models/ffhq/1.0.0-1a2b3c4d. */
export function modelAssetRel(modelDir: string, id: string, version: string): string {
  const tag = sha256Hex(readFileSync(join(modelDir, "manifest.json"))).slice(0, 8);
  return `embed/models/${id}/${version}-${tag}`;
}

/**
 * Copy `src` to `dst` unless dst already holds the same bytes; returns the file's sha256 and size. When the manifest
 * names a sha256 / byte count for it, they must match (a build never ships weights that differ from their manifest).
 */
export function copyChecked(src: string, dst: string, want: { sha256?: string; bytes?: number } = {}): { sha256: string; bytes: number } {
  if (!existsSync(src)) throw new Error(`${src} missing (listed in manifest.json)`);
  const bytes = readFileSync(src);
  const sha256 = sha256Hex(bytes);
  if (want.bytes !== undefined && want.bytes !== bytes.length) throw new Error(`${src}: ${bytes.length} bytes, manifest.json says ${want.bytes}`);
  if (want.sha256 && want.sha256 !== sha256) throw new Error(`${src}: sha256 ${sha256} does not match manifest.json (${want.sha256})`);
  const same = existsSync(dst) && statSync(dst).size === bytes.length && sha256Hex(readFileSync(dst)) === sha256;
  if (!same) {
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(src, dst);
  }
  return { sha256, bytes: bytes.length };
}
