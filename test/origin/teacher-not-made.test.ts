// faces64 before `npm run models:faces64`: its manifest has a teacher whose teacher.onnx (not committed, files[] entry
// with produced_by) is absent. The origin still starts, serves the students, and answers model=teacher with a 400
// bad_model JSON error naming the command that makes the file.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FACES64, hasFaces64 } from "../helpers/model-dir.js";
import type { OriginProcess } from "../../harness/origin.js";
import { startOrigin } from "../../harness/origin.js";

let tmp: string;
let origin: OriginProcess;

beforeAll(async () => {
  if (!hasFaces64) return;
  tmp = mkdtempSync(join(tmpdir(), "seedface-origin-teacher-not-made-"));
  const dir = join(tmp, "models", "faces64");
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(FACES64, "manifest.json"), "utf8"));
  for (const f of manifest.files as { path: string; produced_by?: string }[]) {
    if (!f.produced_by) copyFileSync(join(FACES64, f.path), join(dir, f.path));
  }
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(join(tmp, "models", "default.json"), JSON.stringify({ default: "faces64" }));
  origin = await startOrigin(["--models", join(tmp, "models")]);
}, 120_000);
afterAll(async () => {
  await origin?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!hasFaces64)("origin on faces64 without its derived teacher.onnx", () => {
  it("the manifest marks teacher.onnx as made by npm run models:faces64", () => {
    const manifest = JSON.parse(readFileSync(join(FACES64, "manifest.json"), "utf8"));
    const entry = manifest.files.find((f: { path: string }) => f.path === "teacher.onnx");
    expect(entry.produced_by).toBe("npm run models:faces64");
  });

  it("model=teacher is a 400 bad_model naming the command; students render; health lists no teacher", async () => {
    const res = await origin.fetch("/v1/face/alice.png?size=32&model=teacher");
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("bad_model");
    expect(body.error.message).toMatch(/no teacher network loaded/);
    expect(body.error.message).toContain("`npm run models:faces64` makes it");

    const face = await origin.fetch("/v1/face/alice.png?size=16");
    expect(face.status).toBe(200);
    expect(face.headers.get("content-type")).toBe("image/png");
    const health = (await (await origin.fetch("/v1/healthz")).json()) as { networks: string[] };
    expect(health.networks).toEqual(["mapping", "student"]);
    expect(origin.logs.some((l) => l.includes('"event":"network_missing"') && l.includes("models:faces64"))).toBe(true);
  });
});
