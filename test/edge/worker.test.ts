// Integration: the built worker (dist/) in real workerd via Miniflare, over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import sharp from "sharp";
import { edgeMaxSize, levelForSize } from "../../src/shared/manifest.js";
import { SIZE_MAX, SIZE_MIN } from "../../src/shared/params.js";
import { encodePng } from "../../src/shared/png.js";
import { modelManifest } from "../../harness/models.js";
import { decodePng, isNonBlank, rgbOf } from "../helpers/png.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { fetchIdempotent, startWorker } from "../../harness/worker.js";

let w: WorkerHandle;
let info: {
  resolution: number;
  levels: { size: number; output: string; estimated_wasm_bytes: number; within_budget: boolean; at_edge: boolean }[];
  defaultPsi: number;
  label: string;
  hasTeacher: boolean;
};

async function get(path: string, init?: RequestInit) {
  const res = await fetchIdempotent(w.url + path, init);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { res, bytes };
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/**
 * The smallest request size the edge draws from `output` (the manifest's serving table, else the plain rule: a
 * level's own size), up to its edge_max_size; undefined when no size renders from it.
 */
function smallestSizeFrom(output: string): number | undefined {
  const m = modelManifest(); // what the build bundled (test/origin/origin-edge.test.ts checks that they agree)
  const max = Math.min(SIZE_MAX, edgeMaxSize(m) ?? SIZE_MAX);
  for (let s = SIZE_MIN; s <= max; s++) if (levelForSize(m, s).output === output) return s;
  return undefined;
}

beforeAll(async () => {
  w = await startWorker();
  const models = await json(fetch(`${w.url}/v1/models`));
  const m = models.models[0];
  info = { resolution: m.resolution, levels: m.edge.levels, defaultPsi: m.params.psi.default, label: m.label, hasTeacher: m.networks.teacher !== null };
});
afterAll(async () => w?.dispose());

describe("GET /face/:seed.png", () => {
  it("serves valid, non-blank PNGs of exactly the requested size with the documented headers", async () => {
    // A size drawn from every level the edge draws within its budget, and (for a small model) a size above the model's
    // resolution.
    const edgeLevels = info.levels.filter((l) => l.at_edge && l.within_budget).map((l) => smallestSizeFrom(l.output));
    expect(edgeLevels.filter((s) => s !== undefined).length).toBeGreaterThan(1);
    const sizes = [...new Set([16, 40, ...edgeLevels.filter((s) => s !== undefined), ...(info.resolution + 20 <= 1024 ? [info.resolution + 20] : [])])];
    for (const size of sizes) {
      const { res, bytes } = await get(`/face/alice@example.com.png?size=${size}`);
      expect(res.status, `size ${size}`).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/png");
      // Unversioned: short max-age + revalidation (issue 13); /v/<model>@<version>/ is the immutable one.
      expect(res.headers.get("cache-control")).toBe("public, max-age=300, stale-while-revalidate=3600");
      expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
      expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
      expect(res.headers.get("timing-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("x-face-model")).toBe(info.label);
      expect(res.headers.get("x-face-source")).toBe("edge");
      expect(res.headers.get("server-timing")).toMatch(/infer;dur=[\d.]+/);
      expect(res.headers.get("x-face-degraded")).toBeNull();
      const img = decodePng(bytes);
      expect([img.width, img.height]).toEqual([size, size]);
      expect(isNonBlank(img), `size ${size} is blank`).toBe(true);
    }
  });

  it("different seeds give different faces", async () => {
    const a = rgbOf(decodePng((await get("/face/alice.png?size=32")).bytes));
    const b = rgbOf(decodePng((await get("/face/bob.png?size=32")).bytes));
    expect(same(a, b)).toBe(false);
  });

  it("repeats are byte-identical, the second from cache; equivalent URLs share the entry", async () => {
    const first = await get("/face/repeat-me.png?size=48&psi=0.5");
    expect(first.res.headers.get("x-face-source")).toBe("edge");
    const second = await get("/face/repeat-me.png?size=48&psi=0.5");
    expect(second.res.headers.get("x-face-source")).toBe("cache");
    expect(same(first.bytes, second.bytes)).toBe(true);
    expect(second.res.headers.get("etag")).toBe(first.res.headers.get("etag"));
    const equivalent = await get("/face/repeat%2Dme.png?psi=0.500&size=048&utm_source=x");
    expect(equivalent.res.headers.get("x-face-source")).toBe("cache");
    expect(same(first.bytes, equivalent.bytes)).toBe(true);
  });

  it("the PNG bytes equal Node's encoding of the same pixels (one encoder, both runtimes)", async () => {
    const { bytes } = await get("/face/node-vs-workerd.png?size=64");
    const img = decodePng(bytes);
    const again = await encodePng(rgbOf(img), img.width, img.height);
    expect(same(again, bytes)).toBe(true);
  });

  it("HEAD gives the headers without a body", async () => {
    const g = await get("/face/head.png?size=32");
    const h = await get("/face/head.png?size=32", { method: "HEAD" });
    expect(h.res.status).toBe(200);
    expect(h.bytes.length).toBe(0);
    expect(h.res.headers.get("etag")).toBe(g.res.headers.get("etag"));
    expect(h.res.headers.get("content-length")).toBe(String(g.bytes.length));
    expect(h.res.headers.get("content-type")).toBe("image/png");
  });

  it("If-None-Match gives 304, from cache and before any render", async () => {
    const g = await get("/face/etag.png?size=32");
    const etag = g.res.headers.get("etag")!;
    const n = await get("/face/etag.png?size=32", { headers: { "if-none-match": etag } });
    expect(n.res.status).toBe(304);
    expect(n.res.headers.get("etag")).toBe(etag);
    expect(n.bytes.length).toBe(0);
    const other = await get("/face/etag.png?size=32", { headers: { "if-none-match": '"nope"' } });
    expect(other.res.status).toBe(200);
    // A fresh worker (empty cache) can answer 304 without drawing, since the ETag is a function of the URL.
    const fresh = await startWorker();
    try {
      const r = await fetch(`${fresh.url}/face/etag.png?size=32`, { headers: { "if-none-match": `W/${etag}, "x"` } });
      expect(r.status).toBe(304);
      const health = await json(fetch(`${fresh.url}/healthz`));
      expect(health.sessions_loaded).toBe(false);
    } finally {
      await fresh.dispose();
    }
  });

  it("a fresh worker draws identical bytes", async () => {
    const seeds = ["fresh-1", "ünïcødé 🙂", "a%2Fb", String(12345678901234567890n)];
    const fresh = await startWorker();
    try {
      for (const s of seeds) {
        const p = `/face/${s.startsWith("a%") ? s : encodeURIComponent(s)}.png?size=20`;
        const a = await get(p);
        const b = new Uint8Array(await (await fetch(fresh.url + p)).arrayBuffer());
        expect(a.res.status).toBe(200);
        expect(same(a.bytes, b), `seed ${s}`).toBe(true);
      }
    } finally {
      await fresh.dispose();
    }
  });

  it("slashes encoded as %2F are part of the seed, and seeds up to 256 bytes work", async () => {
    const slash = await get("/face/a%2Fb.png?size=32");
    const plain = await get("/face/ab.png?size=32");
    expect(slash.res.status).toBe(200);
    expect(same(slash.bytes, plain.bytes)).toBe(false);
    const long = await get(`/face/${"é".repeat(128)}.png?size=16`);
    expect(long.res.status).toBe(200);
  });

  it("concurrent requests for a new key share one inference", async () => {
    const rs = await Promise.all(Array.from({ length: 6 }, () => get("/face/coalesce-me.png?size=24")));
    for (const r of rs) {
      expect(r.res.status).toBe(200);
      expect(same(r.bytes, rs[0]!.bytes)).toBe(true);
    }
    const timings = rs.map((r) => r.res.headers.get("server-timing") ?? "");
    const sources = rs.map((r) => r.res.headers.get("x-face-source"));
    // Exactly one drew; the others joined it or (if they came later) hit the cache.
    expect(timings.filter((t) => t.includes("infer") && !t.includes("coalesced")).length).toBe(1);
    expect(sources.filter((s) => s === "edge").length + sources.filter((s) => s === "cache").length).toBe(6);
  });
});

describe("morph /morph/:a/:b.png", () => {
  it("t=0 is A's face, t=1 is B's, t=0.5 is a different non-blank face", async () => {
    const a = await get("/face/alice.png?size=48");
    const b = await get("/face/bob.png?size=48");
    const m0 = await get("/morph/alice/bob.png?size=48&t=0");
    const m1 = await get("/morph/alice/bob.png?size=48&t=1");
    const mid = await get("/morph/alice/bob.png?size=48&t=0.5");
    for (const r of [m0, m1, mid]) expect(r.res.status).toBe(200);
    expect(same(rgbOf(decodePng(m0.bytes)), rgbOf(decodePng(a.bytes)))).toBe(true);
    expect(same(rgbOf(decodePng(m1.bytes)), rgbOf(decodePng(b.bytes)))).toBe(true);
    const midImg = decodePng(mid.bytes);
    expect(isNonBlank(midImg)).toBe(true);
    expect(same(rgbOf(midImg), rgbOf(decodePng(a.bytes)))).toBe(false);
    expect(same(rgbOf(midImg), rgbOf(decodePng(b.bytes)))).toBe(false);
    expect(m0.res.headers.get("etag")).not.toBe(a.res.headers.get("etag"));
    const again = await get("/morph/alice/bob.png?t=0.500&size=48");
    expect(again.res.headers.get("x-face-source")).toBe("cache");
    expect(same(again.bytes, mid.bytes)).toBe(true);
    expect(again.res.headers.get("link")).toMatch(/\/v\/[^/]+@[^/]+\/morph\/alice\/bob\.png\?size=48&psi=[\d.]+&model=student&t=0\.50>; rel="canonical"$/);
  });
  it("~ in /face/ is an ordinary seed character: a~b and a%7Eb are one face, not a morph", async () => {
    const r = await get("/face/a%7Eb.png?size=16");
    const plain = await get("/face/a~b.png?size=16");
    expect(r.res.status).toBe(200);
    expect(plain.res.status).toBe(200);
    expect(plain.res.headers.get("etag")).toBe(r.res.headers.get("etag"));
    expect(same(plain.bytes, r.bytes)).toBe(true);
    expect(plain.res.headers.get("etag")).not.toBe((await get("/morph/a/b.png?size=16")).res.headers.get("etag"));
    // What encodeURIComponent makes of an e-mail address with "~" is that address's face.
    const enc = await get(`/face/${encodeURIComponent("bob~smith@example.com")}.png?size=16`);
    const escaped = await get("/face/bob%7Esmith%40example.com.png?size=16");
    expect(same(enc.bytes, escaped.bytes)).toBe(true);
  });
});

describe("errors are JSON {error:{code,message}}", () => {
  const cases: [string, string, number, string][] = [
    ["GET", "/face/alice.gif", 400, "bad_extension"],
    ["GET", "/face/alice.svg", 400, "bad_extension"],
    ["GET", "/face/.png", 400, "bad_seed"],
    ["GET", `/face/${"x".repeat(257)}.png`, 400, "bad_seed"],
    ["GET", "/face/%E0%A4%A.png", 400, "bad_seed"],
    ["GET", "/morph/a.png", 400, "bad_seed"],
    ["GET", "/morph/a/b/c.png", 400, "bad_seed"],
    ["GET", "/morph//b.png", 400, "bad_seed"],
    ["GET", "/face/alice.png?size=8", 400, "bad_size"],
    ["GET", "/face/alice.png?size=2000", 400, "bad_size"],
    ["GET", "/face/alice.png?size=1e2", 400, "bad_size"],
    ["GET", "/face/alice.png?psi=2", 400, "bad_psi"],
    ["GET", "/face/alice.png?psi=abc", 400, "bad_psi"],
    ["GET", "/face/alice.png?model=gpt", 400, "bad_model"],
    ["GET", "/morph/a/b.png?t=-1", 400, "bad_t"],
    ["GET", "/avatar/abc", 400, "bad_hash"],
    ["GET", `/avatar/${"0".repeat(40)}.png`, 400, "bad_hash"],
    ["GET", `/avatar/${"0".repeat(32)}?r=nc17`, 400, "bad_rating"],
    ["GET", `/avatar/${"0".repeat(32)}?f=maybe`, 400, "bad_forcedefault"],
    ["GET", `/avatar/${"0".repeat(32)}?s=big`, 400, "bad_size"],
    ["GET", "/v/ffhq/face/alice.png", 400, "bad_version"],
    ["GET", "/v/no-such-model@1.0.0/face/alice.png", 404, "unknown_model"],
    ["POST", "/morph/a/b.png", 405, "method_not_allowed"],
    ["POST", `/avatar/${"0".repeat(32)}`, 405, "method_not_allowed"],
    ["GET", "/nothing-here", 404, "not_found"],
    ["GET", "/face", 404, "not_found"],
    ["POST", "/face/alice.png", 405, "method_not_allowed"],
    ["DELETE", "/face/alice.png", 405, "method_not_allowed"],
    ["PUT", "/v1/models", 405, "method_not_allowed"],
    ["POST", "/healthz", 405, "method_not_allowed"],
  ];
  it.each(cases)("%s %s -> %i %s", async (method, path, status, code) => {
    const { res, bytes } = await get(path, { method });
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = JSON.parse(new TextDecoder().decode(bytes));
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe("string");
    expect(body.error.message.length).toBeGreaterThan(5);
    if (status === 405) expect(res.headers.get("allow")).toMatch(/GET/);
  });
  it("random paths and queries never produce a 5xx or a non-JSON error", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40, unit: "binary" }),
        fc.constantFrom(".png", ".jpg", ".webp", "", ".png.png", "~x.png", ".gif"),
        fc.constantFrom("/face/", "/morph/x/", "/avatar/", "/v/ffhq@1.0.0/face/", "/v/zz@9/face/"),
        fc.dictionary(fc.constantFrom("size", "s", "psi", "model", "t", "r", "d", "f", "x"), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
        async (seed, ext, route, query) => {
          const qs = new URLSearchParams({ size: "16", ...query }).toString();
          let enc: string;
          try {
            enc = encodeURIComponent(seed).replace(/%7E/gi, "~");
          } catch {
            return; // lone surrogates cannot be sent in a URL at all
          }
          const path = `${route}${enc}${ext}?${qs}`;
          const { res, bytes } = await get(path);
          expect(res.status, path).toBeLessThan(500);
          if (res.status !== 200) expect(JSON.parse(new TextDecoder().decode(bytes)).error.code, path).toBeTruthy();
          else {
            const meta = await sharp(bytes).metadata();
            const type = res.headers.get("content-type");
            expect(`image/${meta.format === "heif" ? "avif" : meta.format}`, path).toBe(type);
            // size= is validated (400 outside 16..1024) except on /avatar/, where it clamps like Gravatar's s=.
            expect(meta.width, path).toBe(Math.min(1024, Math.max(16, Number(new URLSearchParams(qs).get("size")))));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
  it("model=teacher without an origin is a clear 400 (the models this edge offers are in /v1/models)", async () => {
    const { res, bytes } = await get("/face/alice.png?model=teacher");
    expect(res.status).toBe(400);
    // A model with a teacher needs an origin for it; one without a teacher says so.
    expect(JSON.parse(new TextDecoder().decode(bytes)).error.message).toMatch(info.hasTeacher ? /origin/ : /no teacher/);
  });
  it("OPTIONS is a CORS preflight answer", async () => {
    const { res } = await get("/face/alice.png", { method: "OPTIONS" });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("info routes", () => {
  it("/v1/models describes the model and the edge levels", async () => {
    const body = await json(fetch(`${w.url}/v1/models`));
    const m = body.models[0];
    expect(m.resolution).toBeGreaterThan(0);
    expect(m.edge.levels.length).toBeGreaterThan(0);
    expect(m.edge.sizes_rendered_at_edge.length).toBeGreaterThan(0);
    expect(m.params.psi.default).toBeGreaterThan(0);
    expect(m.seed_algorithm).toBe("seedface-seed/1");
    expect(m).toHaveProperty("training_data");
    expect(body.origin.configured).toBe(false);
  });
  it("/healthz reports ORT's wasm memory after drawing", async () => {
    await get("/face/health.png?size=32");
    const h = await json(fetch(`${w.url}/healthz`));
    expect(h.ok).toBe(true);
    expect(h.sessions_loaded).toBe(true);
    expect(h.wasm_memory_bytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
  });
});

describe("memory guard", () => {
  it("with a budget below a level, renders the largest level within budget, upscaled and marked degraded", async () => {
    // Levels the edge draws that some request size renders from (with a serving table, not every level does).
    const levels = [...info.levels].filter((l) => l.at_edge && smallestSizeFrom(l.output) !== undefined).sort((a, b) => a.size - b.size);
    expect(levels.length).toBeGreaterThan(1);
    // A budget between the first such level of 64 px or more (the largest, for a smaller model) and the one below it:
    // small levels keep this quick on a large model, and the guard's arithmetic is the same for every level.
    const at64 = levels.findIndex((l) => l.size >= 64);
    const i = at64 < 0 ? levels.length - 1 : Math.max(1, at64);
    const top = levels[i]!, below = levels[i - 1]!;
    const [topSize, belowSize] = [smallestSizeFrom(top.output)!, smallestSizeFrom(below.output)!];
    const budgetMb = (below.estimated_wasm_bytes + (top.estimated_wasm_bytes - below.estimated_wasm_bytes) / 2) / 2 ** 20;
    expect(top.estimated_wasm_bytes).toBeGreaterThan(below.estimated_wasm_bytes);
    const small = await startWorker({ vars: { EDGE_WASM_BUDGET_MB: String(budgetMb) } });
    try {
      const r = await fetch(`${small.url}/face/alice.png?size=${topSize}`);
      expect(r.status).toBe(200);
      expect(r.headers.get("x-face-degraded")).toMatch(new RegExp(`level ${top.size}px exceeds the edge memory budget; student ${below.size}px`));
      expect(r.headers.get("cache-control")).toBe("public, max-age=60");
      const img = decodePng(new Uint8Array(await r.arrayBuffer()));
      expect([img.width, img.height]).toEqual([topSize, topSize]);
      expect(isNonBlank(img)).toBe(true);
      const ok = await fetch(`${small.url}/face/alice.png?size=${belowSize}`);
      expect(ok.headers.get("x-face-degraded")).toBeNull();
      const none = await startWorker({ vars: { EDGE_WASM_BUDGET_MB: "1" } });
      try {
        const r2 = await fetch(`${none.url}/face/alice.png?size=32`);
        expect(r2.status).toBe(503);
        expect(r2.headers.get("retry-after")).toBeTruthy();
        expect((await json(r2)).error.code).toBe("unavailable");
      } finally {
        await none.dispose();
      }
    } finally {
      await small.dispose();
    }
  });
});
