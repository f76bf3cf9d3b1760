// Abuse and secrets: per-client limiting of cache misses (Workers Rate Limiting binding MISS_LIMITER, simulated by
// Miniflare), the origin token never leaving the edge or the origin (logs, errors, responses), and no part of a
// request (Host header, absolute-form target, seed, query) choosing where the edge connects. The token and URL
// checks send model=teacher (always fetched from the origin), so they run on an edge built for a model with a
// teacher, against a real origin on the same model (faces64 while the default model, FFHQ, has none).
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePng } from "../helpers/png.js";
import type { EdgeBuild } from "../../harness/models.js";
import { REPO } from "../../harness/worker.js";
import type { OriginProcess } from "../../harness/origin.js";
import { startTeacherOrigin, teacherEdge, TOKEN as ORIGIN_TOKEN } from "../../harness/origin.js";
import type { FaultyOrigin } from "./faulty-origin.js";
import { startFaultyOrigin } from "./faulty-origin.js";
import type { HardenedWorker } from "../../harness/hardened-worker.js";
import { hit, jsonError, rawRequest, startHardenedWorker } from "../../harness/hardened-worker.js";

const SECRET = "tok-Zq8vN3xLw0PpR5sYk2Hd";
const workers: HardenedWorker[] = [];
let faulty: FaultyOrigin;
/** The edge build on the teacher origin's model. */
let edge: EdgeBuild;

async function worker(opts: Parameters<typeof startHardenedWorker>[0]) {
  const w = await startHardenedWorker(opts);
  workers.push(w);
  return w;
}

beforeAll(async () => {
  faulty = await startFaultyOrigin(SECRET);
  edge = await teacherEdge();
});
/** A worker on the teacher model's build. */
const teacherWorker = (vars: Record<string, string>) => worker({ vars, distDir: edge.dist, assetsDir: edge.assets });
afterAll(async () => {
  for (const w of workers) await w.dispose();
  await faulty?.close();
});

describe("rate limiting of cache misses (MISS_LIMITER)", () => {
  it("is off unless the binding is configured: wrangler.toml (npm start) has no active [[ratelimits]]", () => {
    const toml = readFileSync(join(REPO, "wrangler.toml"), "utf8");
    expect(toml).not.toMatch(/^\s*\[\[ratelimits\]\]/m);
    expect(toml).toMatch(/^#\s*\[\[ratelimits\]\]/m); // documented, commented out
  });

  it("limits misses per client with 429 JSON + Retry-After; cache hits, 304s and other clients are not limited", async () => {
    // The limiter counts in fixed windows: a fast, warmed-up worker (the small bundled model, sessions loaded by
    // another client first) keeps the whole sequence well inside one window.
    const w = await worker({ missLimit: 3, distDir: edge.dist, assetsDir: edge.assets });
    const as = (ip: string) => ({ headers: { "cf-connecting-ip": ip } });
    expect((await hit(w.url, "/face/warm-up.png?size=16", as("192.0.2.1"))).res.status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await hit(w.url, `/face/rl-${i}.png?size=16`, as("203.0.113.7"))).res.status).toBe(200);
    const limited = await hit(w.url, "/face/rl-new.png?size=16", as("203.0.113.7"));
    expect(limited.res.status).toBe(429);
    expect(Number(limited.res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.res.headers.get("cache-control")).toBe("no-store");
    expect(jsonError(limited.bytes).code).toBe("rate_limited");
    const head = await hit(w.url, "/face/rl-new.png?size=16", { method: "HEAD", ...as("203.0.113.7") });
    expect(head.res.status).toBe(429);
    // What is already cached stays free, as do revalidations.
    const cached = await hit(w.url, "/face/rl-0.png?size=16", as("203.0.113.7"));
    expect(cached.res.status).toBe(200);
    expect(cached.res.headers.get("x-face-source")).toBe("cache");
    const etag = cached.res.headers.get("etag")!;
    const revalidate = await hit(w.url, "/face/rl-0.png?size=16", { headers: { "cf-connecting-ip": "203.0.113.7", "if-none-match": etag } });
    expect(revalidate.res.status).toBe(304);
    // Another client has its own budget; bad input is rejected before the limiter and does not use it up.
    for (let i = 0; i < 5; i++) expect((await hit(w.url, "/face/x.png?size=7", as("198.51.100.9"))).res.status).toBe(400);
    expect((await hit(w.url, "/face/rl-new.png?size=16", as("198.51.100.9"))).res.status).toBe(200);
  });

  it("generated traffic under a limit: only 200/304/400/404/405/429, every 429 is JSON with Retry-After", async () => {
    const w = await worker({ missLimit: 10 });
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("10.0.0.1", "10.0.0.2"),
        fc.oneof(fc.integer({ min: 0, max: 40 }).map((i) => `/face/lim-${i}.png?size=16`), fc.constantFrom("/face/a.png?size=3", "/nope", "/face/%zz.png")),
        fc.constantFrom("GET", "GET", "HEAD", "POST"),
        async (ip, path, method) => {
          const { res, bytes } = await hit(w.url, path, { method, headers: { "cf-connecting-ip": ip } });
          statuses.add(res.status);
          expect([200, 304, 400, 404, 405, 429]).toContain(res.status);
          if (res.status === 429) {
            expect(res.headers.get("retry-after")).toBeTruthy();
            if (method === "GET") expect(jsonError(bytes).code).toBe("rate_limited");
          }
          if (res.status === 200 && method === "GET") expect(decodePng(bytes).width).toBe(16);
        },
      ),
      { numRuns: 150, seed: 42 },
    );
    expect(statuses.has(429)).toBe(true);
    expect(statuses.has(200)).toBe(true);
  });
});

describe("the origin token stays secret", () => {
  let real: OriginProcess;
  beforeAll(async () => {
    real = await startTeacherOrigin();
  });
  afterAll(async () => {
    await real?.stop();
  });

  it("never appears in the edge's logs, error bodies or response headers, whatever the origin does", async () => {
    const seen: string[] = [];
    const record = async (res: Response) => {
      seen.push(JSON.stringify([...res.headers]), new TextDecoder("latin1").decode(await res.arrayBuffer()));
      return res.status;
    };
    const wrong = await teacherWorker({ ORIGIN_URL: faulty.url, ORIGIN_TOKEN: "not-the-" + SECRET, ORIGIN_TIMEOUT_MS: "600", ORIGIN_BREAKER_FAILURES: "1000" });
    const right = await teacherWorker({ ORIGIN_URL: faulty.url, ORIGIN_TOKEN: SECRET, ORIGIN_TIMEOUT_MS: "600", ORIGIN_BREAKER_FAILURES: "1000", EDGE_WASM_BUDGET_MB: "1" });
    const edgeToReal = await teacherWorker({ ORIGIN_URL: real.url, ORIGIN_TOKEN: ORIGIN_TOKEN, ORIGIN_TIMEOUT_MS: "30000" });
    for (const w of [wrong, right]) {
      for (const fault of ["none", "error500", "notpng", "truncated", "wrongsize", "cut"] as const) {
        faulty.fault = fault;
        await record(await fetch(`${w.url}/face/secret-${fault}.png?size=32&model=teacher`));
        await record(await fetch(`${w.url}/face/secret-${fault}.png?size=9&model=teacher`));
      }
      await record(await fetch(`${w.url}/healthz`));
      await record(await fetch(`${w.url}/v1/models`));
    }
    faulty.fault = "none";
    // Against the real origin: a teacher face, then the origin down (killed) while the edge still holds its token.
    expect(await record(await fetch(`${edgeToReal.url}/face/secret-real.png?size=64&model=teacher`))).toBe(200);
    for (const token of [null, "wrong", ORIGIN_TOKEN.slice(0, -1), ORIGIN_TOKEN + "x"]) {
      const r = await real.fetch("/v1/face/direct.png?size=32", { token });
      expect(r.status).toBe(401);
      await record(r);
    }
    await record(await real.fetch("/v1/face/direct.png?size=32&psi=9"));
    await record(await real.fetch("/v1/healthz"));
    await record(await real.fetch("/v1/models"));
    await real.stop();
    expect(await record(await fetch(`${edgeToReal.url}/face/secret-real-2.png?size=64&model=teacher`))).toBe(200);

    expect(faulty.requests.some((r) => r.auth === `Bearer ${SECRET}`)).toBe(true); // the token was really used
    for (const [what, text] of [
      ["edge logs", wrong.logs() + right.logs() + edgeToReal.logs()],
      ["origin logs", real.logs.join("\n")],
      ["responses", seen.join("\n")],
    ] as const) {
      expect(text.length, what).toBeGreaterThan(0);
      expect(text.includes(SECRET), `${what} contain the edge's token`).toBe(false);
      expect(text.includes(ORIGIN_TOKEN), `${what} contain the origin's token`).toBe(false);
    }
    expect(wrong.logs()).toMatch(/401/); // the misconfiguration is logged, without the token
  });
});

describe("no URL from the request reaches fetch", () => {
  let canary: { url: string; hits: string[]; close(): Promise<void> };
  beforeAll(async () => {
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "content-type": "image/png" });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    canary = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      hits,
      close: () => new Promise<void>((r) => server.close(() => r())),
    };
  });
  afterAll(async () => canary?.close());

  it("Host header, absolute-form targets, forwarding headers, seeds and parameters naming another server are ignored", async () => {
    faulty.fault = "none";
    const w = await teacherWorker({ ORIGIN_URL: faulty.url, ORIGIN_TOKEN: SECRET });
    const c = new URL(canary.url);
    const before = faulty.requests.length;
    const heads = [
      `GET /face/host.png?size=32&model=teacher HTTP/1.1\r\nHost: ${c.host}\r\nConnection: close\r\n\r\n`,
      `GET /face/fwd.png?size=32&model=teacher HTTP/1.1\r\nHost: ${new URL(w.url).host}\r\nX-Forwarded-Host: ${c.host}\r\nForwarded: host=${c.host}\r\nX-Original-URL: ${canary.url}/x\r\nConnection: close\r\n\r\n`,
      `GET /face/${encodeURIComponent(canary.url + "/x")}.png?size=32&model=teacher&origin=${encodeURIComponent(canary.url)}&ORIGIN_URL=${encodeURIComponent(canary.url)} HTTP/1.1\r\nHost: ${new URL(w.url).host}\r\nConnection: close\r\n\r\n`,
      `GET /face/..%2F..%2F..%2F${encodeURIComponent("@" + c.host)}.png?size=32&model=teacher HTTP/1.1\r\nHost: ${new URL(w.url).host}\r\nConnection: close\r\n\r\n`,
      `GET /face/../../x.png?size=32&model=teacher HTTP/1.1\r\nHost: ${new URL(w.url).host}\r\nConnection: close\r\n\r\n`,
    ];
    // workerd's own HTTP server (local dev) refuses an absolute-form target with a plain 500 before any worker code
    // runs; what matters here is that nothing is fetched from the URL it names.
    const absolute = await rawRequest(w.url, `GET ${canary.url}/face/absolute.png?size=32&model=teacher HTTP/1.1\r\nHost: ${c.host}\r\nConnection: close\r\n\r\n`);
    expect(absolute.headers["content-type"] ?? "").not.toMatch(/image\/png/);
    for (const head of heads) {
      const r = await rawRequest(w.url, head);
      expect([200, 400, 404], head).toContain(r.status);
      if (r.status === 200) expect(r.headers["content-type"], head).toBe("image/png");
      else expect(JSON.parse(r.body.toString()).error.code, head).toBeTruthy();
    }
    expect(canary.hits).toEqual([]);
    const sent = faulty.requests.slice(before);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    for (const r of sent) {
      expect(r.path).toMatch(/^\/v1\/face\/[^/?]+\.png\?size=32&psi=\d\.\d\d&model=teacher$/);
      expect(r.host).toBe(new URL(faulty.url).host);
    }
  });
});
