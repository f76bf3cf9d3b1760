// Attribute options at the edge (issue 16), in real workerd: 400 JSON listing what is allowed, glasses unavailable
// for ffhq, options in the cache key and ETag (equivalent orders share one entry), and the face moves.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributesEntry } from "../../src/shared/attributes.js";
import { modelManifest } from "../../harness/models.js";
import { decodePng } from "../helpers/png.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { startWorker } from "../../harness/worker.js";

let w: WorkerHandle;
const hasDirections = attributesEntry(modelManifest()) !== null;

async function get(path: string, init?: RequestInit) {
  // One retry when the local connection is reset: under heavy load on 2 shared cores (load average 6-8) workerd
  // twice closed a keep-alive socket mid-render in the full suite; alone the file always passed. Responses are
  // still checked strictly below.
  let res: Response;
  try {
    res = await fetch(w.url + path, init);
  } catch (e) {
    if (!/fetch failed/.test(String(e))) throw e;
    res = await fetch(w.url + path, init);
  }
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

beforeAll(async () => {
  w = await startWorker();
});
afterAll(async () => w?.dispose());

describe("attribute options at the edge", () => {
  it.each([
    ["gender=other", "bad_attribute"],
    ["age=teen", "bad_attribute"],
    ["age_min=eighteen", "bad_attribute"],
    ["expression=angry", "bad_attribute"],
    ["glasses=maybe", "bad_attribute"],
  ])("%s -> 400 %s listing the allowed values", async (query, code) => {
    const { res, bytes } = await get(`/face/alice.png?size=32&${query}`);
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = JSON.parse(new TextDecoder().decode(bytes));
    expect(body.error.code).toBe(code);
    expect(body.error.allowed.gender).toEqual(["female", "male"]);
    expect(body.error.allowed.expression).toEqual(["smile", "neutral"]);
    expect(body.error.message).toContain(query.split("=")[0]!);
  });

  it.runIf(hasDirections)("glasses=yes on ffhq -> 400 attribute_unavailable with the reason; age_min outside the table -> 400", async () => {
    const g = await get("/face/alice.png?size=32&glasses=yes");
    expect(g.res.status).toBe(400);
    const body = JSON.parse(new TextDecoder().decode(g.bytes));
    expect(body.error.code).toBe("attribute_unavailable");
    expect(body.error.message).toMatch(/glasses is not available for model ffhq@/);
    expect(body.error.allowed.glasses).toBeUndefined();
    expect(body.error.allowed.age).toEqual(["child", "young", "adult", "senior"]);
    const a = await get("/face/alice.png?size=32&age_min=5");
    expect(a.res.status).toBe(400);
    expect(JSON.parse(new TextDecoder().decode(a.bytes)).error.code).toBe("bad_attribute");
    const c = await get("/face/alice.png?size=32&age=child&age_min=40");
    expect(c.res.status).toBe(400);
  });

  it.runIf(hasDirections)("options move the face, are in the ETag, and equivalent orders share one cache entry", async () => {
    const plain = await get("/face/attr-edge.png?size=32");
    const female = await get("/face/attr-edge.png?size=32&gender=female&expression=smile");
    const male = await get("/face/attr-edge.png?size=32&gender=male&expression=smile");
    for (const r of [plain, female, male]) {
      expect(r.res.status).toBe(200);
      expect(decodePng(r.bytes).width).toBe(32);
    }
    // female and male intervals are disjoint: at least one of them moves this seed.
    expect(same(female.bytes, plain.bytes) && same(male.bytes, plain.bytes)).toBe(false);
    expect(same(female.bytes, male.bytes)).toBe(false);
    const etags = [plain, female, male].map((r) => r.res.headers.get("etag"));
    expect(new Set(etags).size).toBe(3);
    const again = await get("/face/attr-edge.png?expression=smile&size=32&gender=female");
    expect(again.res.headers.get("x-face-source")).toBe("cache");
    expect(again.res.headers.get("etag")).toBe(female.res.headers.get("etag"));
    expect(same(again.bytes, female.bytes)).toBe(true);
    // empty values are "not asked": the plain face
    const empty = await get("/face/attr-edge.png?size=32&gender=&age=");
    expect(empty.res.headers.get("etag")).toBe(plain.res.headers.get("etag"));
  });
});

describe("earlier versions (manifest earlier_versions)", () => {
  const m = modelManifest();
  const earlier = m.earlier_versions ?? [];

  it.runIf(earlier.length > 0)("an earlier version serves the same plain faces, 410 with options, and /v1/models lists it", async () => {
    const models = (await (await fetch(`${w.url}/v1/models`)).json()) as { models: { earlier_versions: { version: string }[] }[] };
    expect(models.models[0]!.earlier_versions.map((e) => e.version)).toEqual(earlier.map((e) => e.version));
    const now = await get(`/v/${m.id}@${m.version}/face/old-url.png?size=32`);
    expect(now.res.status).toBe(200);
    for (const e of earlier) {
      const old = await get(`/v/${m.id}@${e.version}/face/old-url.png?size=32`);
      expect(old.res.status).toBe(200);
      expect(old.res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(same(old.bytes, now.bytes)).toBe(true);
      const opt = await get(`/v/${m.id}@${e.version}/face/old-url.png?size=32&gender=female`);
      expect(opt.res.status).toBe(410);
      expect(opt.res.headers.get("cache-control")).toBe("no-store");
      const body = JSON.parse(new TextDecoder().decode(opt.bytes));
      expect(body.error.code).toBe("retired_version");
      expect(body.error.message).toContain(`/v/${m.id}@${m.version}/`);
      // the current version still draws the option
      expect((await get(`/v/${m.id}@${m.version}/face/old-url.png?size=32&gender=female`)).res.status).toBe(200);
    }
  });
});
