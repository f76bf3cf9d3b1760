// The origin on a student-only model (as an imported release student, no teacher network): model=teacher is a clear
// 400 bad_model, students render as usual, /v1/models says there is no teacher.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasFaces64, teacherlessServingModel } from "../helpers/model-dir.js";
import type { OriginProcess } from "../../harness/origin.js";
import { startOrigin } from "../../harness/origin.js";

let tmp: string;
let origin: OriginProcess;

beforeAll(async () => {
  if (!hasFaces64) return;
  tmp = mkdtempSync(join(tmpdir(), "seedface-origin-teacherless-"));
  const { models } = teacherlessServingModel(join(tmp, "models"));
  origin = await startOrigin(["--models", models]);
}, 120_000);
afterAll(async () => {
  await origin?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe.skipIf(!hasFaces64)("origin with a model without a teacher", () => {
  it("model=teacher is a 400 bad_model JSON error naming the missing network", async () => {
    const res = await origin.fetch("/v1/face/alice.png?size=32&model=teacher");
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("bad_model");
    expect(body.error.message).toMatch(/no teacher/);
  });

  it("students render, /v1/models lists no teacher", async () => {
    const res = await origin.fetch("/v1/face/alice.png?size=16");
    expect(res.status).toBe(200);
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
    expect([png.width, png.height]).toEqual([16, 16]);
    const models = (await (await origin.fetch("/v1/models")).json()) as { models: { networks: { teacher: unknown } }[] };
    expect(models.models[0]!.networks.teacher).toBeNull();
  });
});
