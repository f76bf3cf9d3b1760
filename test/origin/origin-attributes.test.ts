// Attribute options at the origin (issue 16): the origin loads the model's attributes.json (sha256-checked with the
// weights), answers what the edge forwards in the canonical query, and refuses what the model cannot do.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributesEntry } from "../../src/shared/attributes.js";
import { modelManifest } from "../../harness/models.js";
import type { OriginProcess } from "../../harness/origin.js";
import { startOrigin } from "../../harness/origin.js";

let origin: OriginProcess;
const hasDirections = attributesEntry(modelManifest()) !== null;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.stop();
});

const bytes = async (path: string) => {
  const res = await origin.fetch(path);
  return { res, body: Buffer.from(await res.arrayBuffer()) };
};

describe.runIf(hasDirections)("attribute options at the origin", () => {
  it("moves the face for the canonical query the edge sends; options are in the ETag", async () => {
    const plain = await bytes("/v1/face/attr-origin.png?size=64&psi=1.00&model=student");
    const female = await bytes("/v1/face/attr-origin.png?size=64&psi=1.00&model=student&gender=female");
    const male = await bytes("/v1/face/attr-origin.png?size=64&psi=1.00&model=student&gender=male");
    for (const r of [plain, female, male]) expect(r.res.status).toBe(200);
    expect(plain.body.equals(female.body) && plain.body.equals(male.body)).toBe(false);
    expect(female.body.equals(male.body)).toBe(false);
    expect(new Set([plain, female, male].map((r) => r.res.headers.get("etag"))).size).toBe(3);
  });

  it("400 JSON for glasses (not available for this model) and for unknown values, listing what is allowed", async () => {
    for (const [q, code] of [["glasses=no", "attribute_unavailable"], ["gender=x", "bad_attribute"], ["age_min=3", "bad_attribute"]] as const) {
      const { res, body } = await bytes(`/v1/face/alice.png?size=64&${q}`);
      expect(res.status, q).toBe(400);
      const j = JSON.parse(body.toString("utf8"));
      expect(j.error.code).toBe(code);
      expect(j.error.allowed.gender).toEqual(["female", "male"]);
    }
  });
});
