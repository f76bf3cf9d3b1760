// The origin as a real process over real HTTP, on the default model: auth, every parameter error, PNG validity and
// size, headers, conditional requests, models and health endpoints, morphs; teacher renders on the model with a
// teacher (faces64 while the default model, FFHQ, has none).
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelManifest } from "../../harness/models.js";
import type { OriginProcess } from "../../harness/origin.js";
import { startOrigin, startTeacherOrigin } from "../../harness/origin.js";

let origin: OriginProcess;

beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.stop();
});

function decode(bytes: ArrayBuffer): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

/** Standard deviation of all channel values: a blank or constant image has ~0. */
function spread(png: PNG): number {
  let s = 0, s2 = 0, n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const v = png.data[i + c]!;
      s += v;
      s2 += v * v;
      n++;
    }
  }
  return Math.sqrt(s2 / n - (s / n) ** 2);
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

describe("auth", () => {
  it("401 JSON without a token, with a wrong one, with a wrong scheme", async () => {
    await expectError(await origin.fetch("/v1/face/alice.png", { token: null }), 401, "unauthorized");
    await expectError(await origin.fetch("/v1/face/alice.png", { token: "test-token-0123456789abcdeX" }), 401, "unauthorized");
    await expectError(await origin.fetch("/v1/face/alice.png", { token: "x" }), 401, "unauthorized");
    const basic = await origin.fetch("/v1/face/alice.png", { token: null, headers: { authorization: "Basic dGVzdA==" } });
    await expectError(basic, 401, "unauthorized");
    await expectError(await origin.fetch("/v1/models", { token: null }), 401, "unauthorized");
  });

  it("checks the token before the parameters", async () => {
    await expectError(await origin.fetch("/v1/face/alice.png?size=1", { token: null }), 401, "unauthorized");
  });

  it("200 PNG with the right token; healthz needs none", async () => {
    const res = await origin.fetch("/v1/face/alice.png?size=64");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    const health = await origin.fetch("/v1/healthz", { token: null });
    expect(health.status).toBe(200);
    const h = (await health.json()) as { ok: boolean; ep: string };
    expect(h.ok).toBe(true);
    expect(h.ep).toBe("cpu");
  });
});

describe("parameter errors", () => {
  const long = "x".repeat(257);
  const cases: [string, number, string][] = [
    ["/v1/face/.png", 400, "bad_seed"],
    [`/v1/face/${long}.png`, 400, "bad_seed"],
    [`/v1/face/${"%C3%A9".repeat(129)}.png`, 400, "bad_seed"],
    ["/v1/face/%E0%A4%A.png", 400, "bad_seed"],
    ["/v1/morph/a/b/c.png", 400, "bad_seed"],
    ["/v1/face/alice.gif", 400, "bad_extension"],
    ["/v1/face/alice.bmp", 400, "bad_extension"],
    ["/v1/avatar/nothex.png", 400, "bad_hash"],
    ["/v1/face/alice.png?size=abc", 400, "bad_size"],
    ["/v1/face/alice.png?size=15", 400, "bad_size"],
    ["/v1/face/alice.png?size=1025", 400, "bad_size"],
    ["/v1/face/alice.png?size=64.5", 400, "bad_size"],
    ["/v1/face/alice.png?size=-64", 400, "bad_size"],
    ["/v1/face/alice.png?size=", 400, "bad_size"],
    ["/v1/face/alice.png?psi=1.5", 400, "bad_psi"],
    ["/v1/face/alice.png?psi=-0.1", 400, "bad_psi"],
    ["/v1/face/alice.png?psi=abc", 400, "bad_psi"],
    ["/v1/face/alice.png?psi=NaN", 400, "bad_psi"],
    ["/v1/face/alice.png?model=huge", 400, "bad_model"],
    ["/v1/face/alice.png?model=", 400, "bad_model"],
    ["/v1/morph/a/b.png?t=2", 400, "bad_t"],
    ["/v1/morph/a/b.png?t=x", 400, "bad_t"],
    ["/v1/face/alice.png?r=nc17", 400, "bad_rating"],
    ["/v1/nothing", 404, "not_found"],
    ["/face/alice.png", 404, "not_found"],
  ];
  for (const [path, status, code] of cases) {
    it(`${path.slice(0, 60)} -> ${status} ${code}`, async () => {
      await expectError(await origin.fetch(path), status, code);
    });
  }

  it("405 with Allow for other methods", async () => {
    const res = await origin.fetch("/v1/face/alice.png", { method: "POST", body: "x" });
    await expectError(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    const del = await origin.fetch("/v1/models", { method: "DELETE" });
    await expectError(del, 405, "method_not_allowed");
  });

  it("ignores unknown parameters (same ETag as without them)", async () => {
    const a = await origin.fetch("/v1/face/bob.png?size=32&foo=bar");
    const b = await origin.fetch("/v1/face/bob.png?size=32");
    expect(a.status).toBe(200);
    expect(a.headers.get("etag")).toBe(b.headers.get("etag"));
    expect(b.headers.get("server-timing")).toMatch(/^lru;/); // the repeat came from the PNG LRU
    expect(Buffer.from(await a.arrayBuffer()).equals(Buffer.from(await b.arrayBuffer()))).toBe(true);
  });
});

describe("faces", () => {
  for (const size of [16, 50, 64, 100, 128, 256, 1024]) {
    it(`student PNG is valid and exactly ${size}x${size}`, async () => {
      const res = await origin.fetch(`/v1/face/carol%40example.com.png?size=${size}`);
      expect(res.status).toBe(200);
      const png = decode(await res.arrayBuffer());
      expect(png.width).toBe(size);
      expect(png.height).toBe(size);
      expect(spread(png)).toBeGreaterThan(2);
    });
  }

  it("carries the edge's headers", async () => {
    const res = await origin.fetch("/v1/face/dave.png?size=64&psi=0.5", { headers: { "x-face-request-id": "req-123" } });
    expect(res.headers.get("x-face-request-id")).toBe("req-123");
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("x-face-source")).toBe("origin");
    expect(res.headers.get("x-face-model")).toMatch(/^[\w.-]+@[\w.-]+\/student-fp32$/);
    expect(res.headers.get("server-timing")).toMatch(/infer;dur=/);
    expect(Number(res.headers.get("x-face-render-ms"))).toBeGreaterThanOrEqual(0);
  });

  it("psi rounding gives the same canonical face; a different psi a different one", async () => {
    const a = await origin.fetch("/v1/face/erin.png?size=32&psi=0.5");
    const b = await origin.fetch("/v1/face/erin.png?size=32&psi=0.501");
    const c = await origin.fetch("/v1/face/erin.png?size=32&psi=0.9");
    expect(a.headers.get("etag")).toBe(b.headers.get("etag"));
    expect(a.headers.get("etag")).not.toBe(c.headers.get("etag"));
    const [ba, bc] = [Buffer.from(await a.arrayBuffer()), Buffer.from(await c.arrayBuffer())];
    await b.arrayBuffer();
    expect(ba.equals(bc)).toBe(false);
  });

  it("If-None-Match gives 304; HEAD gives headers without a body", async () => {
    const res = await origin.fetch("/v1/face/frank.png?size=32");
    const etag = res.headers.get("etag")!;
    await res.arrayBuffer();
    const nm = await origin.fetch("/v1/face/frank.png?size=32", { headers: { "if-none-match": etag } });
    expect(nm.status).toBe(304);
    expect(nm.headers.get("etag")).toBe(etag);
    const head = await origin.fetch("/v1/face/frank.png?size=32", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("etag")).toBe(etag);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it("a seed with %2F, UTF-8 and spaces renders", async () => {
    const res = await origin.fetch(`/v1/face/${encodeURIComponent("a/b ünï 😀")}.png?size=32`);
    expect(res.status).toBe(200);
    expect(decode(await res.arrayBuffer()).width).toBe(32);
  });

  it("morph: t=0 is seed A's face, t=1 seed B's, t=0.5 neither", async () => {
    const get = async (p: string) => {
      const r = await origin.fetch(p);
      expect(r.status).toBe(200);
      return Buffer.from(decode(await r.arrayBuffer()).data);
    };
    const a = await get("/v1/face/heidi.png?size=64");
    const b = await get("/v1/face/ivan.png?size=64");
    expect(await get("/v1/morph/heidi/ivan.png?size=64&t=0")).toEqual(a);
    expect(await get("/v1/morph/heidi/ivan.png?size=64&t=1")).toEqual(b);
    const mid = await get("/v1/morph/heidi/ivan.png?size=64&t=0.5");
    expect(mid.equals(a) || mid.equals(b)).toBe(false);
  });

  it("/v1/models describes the loaded model", async () => {
    const res = await origin.fetch("/v1/models");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { ep: string; models: { id: string; networks: Record<string, { file: string } | null> }[] };
    expect(body.ep).toBe("cpu");
    expect(body.models[0]!.id).toBe(modelManifest().id); // the default model
    expect(body.models[0]!.networks.student!.file).toMatch(/\.onnx$/);
    expect(body.models[0]!.networks.mapping!.file).toMatch(/\.onnx$/);
  });
});

describe("teacher", () => {
  const defaultHasTeacher = !!modelManifest().networks.teacher;

  it("on the default model without a teacher network, model=teacher is a 400 bad_model", async (ctx) => {
    ctx.skip(defaultHasTeacher, "the default model has a teacher (rendered below)");
    await expectError(await origin.fetch("/v1/face/grace.png?size=32&model=teacher"), 400, "bad_model");
  });

  it("renders a valid PNG that differs from the student's (on the model with a teacher)", async () => {
    const t0 = defaultHasTeacher ? origin : await startTeacherOrigin();
    try {
      const t = await t0.fetch("/v1/face/grace.png?size=128&model=teacher");
      expect(t.status).toBe(200);
      expect(t.headers.get("x-face-model")).toMatch(/\/teacher-fp32$/);
      const tp = decode(await t.arrayBuffer());
      expect([tp.width, tp.height]).toEqual([128, 128]);
      expect(spread(tp)).toBeGreaterThan(2);
      const s = await t0.fetch("/v1/face/grace.png?size=128");
      expect(Buffer.from(decode(await s.arrayBuffer()).data).equals(Buffer.from(tp.data))).toBe(false);
    } finally {
      if (t0 !== origin) await t0.stop();
    }
  });
});
