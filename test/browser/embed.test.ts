// The browser side, end to end: the built worker (dist/ + dist-assets/) in real workerd via Miniflare, Debian's
// Chromium via playwright-core, real HTTP, real PNG decoding (pngjs). Screenshots go to test-artifacts/.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAny, decodePng, isNonBlank, pixelStats, psnr, rgbOf } from "../helpers/png.js";
import type { DecodedImage } from "../helpers/png.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { REPO, startWorker } from "../../harness/worker.js";
import type { Browser, FacePixels } from "../../harness/chromium.js";
import { ARTIFACTS, facePixels, hostServer, launch, screenshot, waitForFace } from "../../harness/chromium.js";
import type { OriginProcess } from "../../harness/origin.js";
import { TOKEN, startTeacherOrigin } from "../../harness/origin.js";
import { buildWithEmbed, linkedModels } from "../../harness/embed-build.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

let w: WorkerHandle;
let host: Awaited<ReturnType<typeof hostServer>>;
let resolution = 0;
const timings: Record<string, unknown> = {};

async function serverFace(path: string): Promise<DecodedImage> {
  const res = await fetch(w.url + path);
  expect(res.status, path).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/png");
  return decodePng(new Uint8Array(await res.arrayBuffer()));
}

const rgbOfPixels = (p: FacePixels) => rgbOf({ width: p.width, height: p.height, rgba: p.rgba });

function hostPage(name: string, body: string): string {
  return host.put(`/${name}.html`, `<!doctype html><html lang="en"><meta charset="utf-8"><link rel="icon" href="data:,">
<title>${name}</title><script type="module" src="${w.url}/embed.js"></script><body>${body}</body></html>`);
}

async function renderedDetail(page: Page, selector: string): Promise<{ path: string; ms: number } | null> {
  return page.evaluate((sel) => (window as unknown as { __rendered?: Record<string, { path: string; ms: number }> }).__rendered?.[sel] ?? null, selector);
}

// Records every seedface:render event by element id, so tests can read timings.
const RECORDER = `<script>window.__rendered={};addEventListener("seedface:render",e=>{window.__rendered["#"+e.target.id]=e.detail})</script>`;

// These tests are about the component on the small trained model (native 64 px, with a teacher for the playground's
// side by side); test/browser/embed-ffhq.test.ts covers the default FFHQ model.
let f64: { dist: string; assets: string };
beforeAll(async () => {
  const tmp = mkdtempSync(join(tmpdir(), "seedface-embed-faces64-"));
  f64 = await buildWithEmbed(join(tmp, "build"), linkedModels(join(tmp, "models"), "faces64", join(REPO, "models/faces64")));
  w = await startWorker({ distDir: f64.dist, assetsDir: f64.assets });
  host = await hostServer();
  const models = (await (await fetch(`${w.url}/v1/models`)).json()) as { models: { resolution: number }[] };
  resolution = models.models[0]!.resolution;
});

afterAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, "embed-timings.json"), JSON.stringify(timings, null, 2) + "\n");
  await host?.close();
  await w?.dispose();
});

describe("embed routes", () => {
  it("serves /embed.js as a CORS-enabled JavaScript module", async () => {
    const res = await fetch(`${w.url}/embed.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(await res.text()).toContain("seed-face");
    const head = await fetch(`${w.url}/embed.js`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it("serves the playground at /", async () => {
    const res = await fetch(`${w.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain(`<script type="module" src="/embed.js"></script>`);
  });

  it("serves ORT's wasm gzip-encoded, byte-identical to the package's file, cached immutably", async () => {
    const ortVersion = (JSON.parse(readFileSync(join(REPO, "node_modules/onnxruntime-web/package.json"), "utf8")) as { version: string }).version;
    for (const f of ["ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.jsep.wasm"]) {
      const res = await fetch(`${w.url}/embed/ort/${ortVersion}/${f}`); // Node's fetch undoes Content-Encoding
      expect(res.status, f).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/wasm");
      expect(res.headers.get("content-encoding")).toBe("gzip");
      expect(res.headers.get("cache-control")).toContain("immutable");
      const got = createHash("sha256").update(new Uint8Array(await res.arrayBuffer())).digest("hex");
      const want = createHash("sha256").update(readFileSync(join(REPO, "node_modules/onnxruntime-web/dist", f))).digest("hex");
      expect(got, f).toBe(want);
    }
  });

  it("serves the browser's model files matching models.json", async () => {
    const idx = (await (await fetch(`${w.url}/embed/models.json`)).json()) as { default: string; path: string; files: Record<string, string> };
    expect(idx.default).toBeTruthy();
    expect(Object.keys(idx.files)).toContain("manifest.json");
    for (const [file, sha256] of Object.entries(idx.files)) {
      const res = await fetch(`${w.url}${idx.path}${file}`);
      expect(res.status, file).toBe(200);
      expect(createHash("sha256").update(new Uint8Array(await res.arrayBuffer())).digest("hex"), file).toBe(sha256);
    }
  });

  it("answers unknown or unsafe embed paths with 404 JSON", async () => {
    for (const p of ["/embed/nope.js", "/embed/playground.txt", "/embed/%2e%2e/wrangler.toml", "/embed/ort/x/../../../package.json"]) {
      const res = await fetch(`${w.url}${p}`);
      expect(res.status, p).toBe(404);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code, p).toBe("not_found");
    }
  });
});

describe("in Chromium without WebGPU", () => {
  let b: Browser;
  beforeAll(async () => { b = await launch(); });
  afterAll(async () => b?.close());

  it("<seed-face mode=browser> renders with WASM, lazily, with one model download per page, matching the edge; auto is the edge's <img>", async () => {
    const many = Array.from({ length: 16 }, (_, i) => `<seed-face id="m${i}" seed="many-${i}" size="32" psi="0.7" mode="browser"></seed-face>`).join("");
    const url = hostPage("component", `${RECORDER}
      <seed-face id="wasm" seed="alice" size="64" psi="0.7" mode="browser" label="Alice's avatar"></seed-face>
      <seed-face id="server" seed="alice" size="64" psi="0.7" mode="server"></seed-face>
      <seed-face id="auto" seed="alice" size="64" psi="0.7"></seed-face>
      <seed-face id="big" seed="alice" size="${resolution + 72}" psi="0.7" mode="browser"></seed-face>
      <div>${many}</div>
      <div style="height: 5000px"></div>
      <seed-face id="lazy" seed="lazy-one" size="64" psi="0.7" mode="browser"></seed-face>`);
    const page = await b.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url);

    expect(await waitForFace(page, "#wasm")).toBe("ready");
    expect(await page.getAttribute("#wasm", "data-path")).toBe("wasm");
    expect(await page.getAttribute("#wasm", "role")).toBe("img");
    expect(await page.getAttribute("#wasm", "aria-label")).toBe("Alice's avatar");
    const first = await renderedDetail(page, "#wasm");
    timings.wasm_first_face_ms = first?.ms;
    console.log(`[browser] WASM: first face in ${first?.ms} ms (fresh profile: ORT + model download + session + render)`);

    // Same seed, same face as the edge: PSNR on decoded pixels.
    const edge = await serverFace("/face/alice.png?size=64&psi=0.70");
    const client = await facePixels(page, "#wasm");
    expect([client.width, client.height]).toEqual([64, 64]);
    const db = psnr(rgbOfPixels(client), rgbOf(edge));
    timings.wasm_psnr_db = Number.isFinite(db) ? db : "identical pixels";
    console.log(`[browser] WASM face vs edge PNG: PSNR ${db.toFixed(2)} dB`);
    expect(db).toBeGreaterThanOrEqual(30);
    expect(isNonBlank({ ...client })).toBe(true);

    // mode=server, and the default (auto), are an <img> of the edge's versioned WebP (size x devicePixelRatio = 64
    // here): the same pixels as that file decoded by libwebp in Node, and the PNG's face within lossy limits.
    const info = ((await (await fetch(`${w.url}/v1/models`)).json()) as { models: { id: string; version: string }[] }).models[0]!;
    const webp = await decodeAny(new Uint8Array(await (await fetch(`${w.url}/v/${info.id}@${info.version}/face/alice.webp?size=64&psi=0.70`)).arrayBuffer()));
    for (const sel of ["#server", "#auto"]) {
      expect(await waitForFace(page, sel)).toBe("ready");
      expect(await page.getAttribute(sel, "data-path")).toBe("server");
      const shown = rgbOfPixels(await facePixels(page, sel));
      expect(psnr(shown, rgbOf(webp))).toBeGreaterThanOrEqual(40);
      expect(psnr(shown, rgbOf(edge))).toBeGreaterThanOrEqual(30);
    }
    expect(requests.some((u) => new URL(u).pathname === `/v/${info.id}@${info.version}/face/alice.webp`)).toBe(true);

    // Above the largest size the edge draws itself, mode=browser asks the edge.
    expect(await waitForFace(page, "#big")).toBe("ready");
    expect(await page.getAttribute("#big", "data-path")).toBe("server");
    expect((await facePixels(page, "#big")).width).toBe(resolution + 72);

    // Many elements on one page all render, and differ from each other.
    for (let i = 0; i < 16; i++) expect(await waitForFace(page, `#m${i}`), `m${i}`).toBe("ready");
    const m0 = rgbOfPixels(await facePixels(page, "#m0")), m1 = rgbOfPixels(await facePixels(page, "#m1"));
    expect(psnr(m0, m1)).toBeLessThan(30);

    await screenshot(page, "seed-face-wasm.png", false);

    // Lazy: the far-away element has loaded nothing until scrolled to.
    expect(await page.getAttribute("#lazy", "data-state")).toBe("idle");
    expect(requests.some((u) => u.includes("lazy-one"))).toBe(false);
    await page.locator("#lazy").scrollIntoViewIfNeeded();
    expect(await waitForFace(page, "#lazy")).toBe("ready");

    // The model and ORT's wasm were fetched once for the whole page.
    const onnx = requests.filter((u) => u.endsWith(".onnx"));
    expect(onnx.length).toBeGreaterThan(0);
    expect(new Set(onnx).size).toBe(onnx.length);
    expect(requests.filter((u) => u.endsWith(".wasm")).length).toBe(1);

    // A second visit reads the model from Cache Storage: no request for it at all. (goto, not reload: a reload
    // restores the scroll position, leaving #auto off-screen and so, correctly, unloaded.)
    requests.length = 0;
    await page.goto(url);
    expect(await waitForFace(page, "#wasm")).toBe("ready");
    expect(requests.filter((u) => u.endsWith(".onnx"))).toEqual([]);
    timings.wasm_first_face_cached_model_ms = (await renderedDetail(page, "#wasm"))?.ms;
    expect(b.errors).toEqual([]);
    await page.close();
  });
  it("the playground loads without console errors and shows non-blank faces, latencies and a morph", async () => {
    const page = await b.newPage();
    await page.goto(`${w.url}/`);
    await page.waitForFunction(() => {
      const figs = [...document.querySelectorAll("#grid figure")];
      return figs.length === 12 && figs.every((f) => f.getAttribute("data-state"));
    }, null, { timeout: 90_000 });
    expect(await page.locator("#grid figure[data-state=ready]").count()).toBe(12);
    // Decoded pixels of every grid face (same-origin images drawn into a canvas), not element presence.
    const grid = await page.evaluate(() => [...document.querySelectorAll<HTMLImageElement>("#grid img")].map((img) => {
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      c.getContext("2d")!.drawImage(img, 0, 0);
      return { w: c.width, h: c.height, rgba: Array.from(c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data) };
    }));
    for (const g of grid) {
      expect([g.w, g.h]).toEqual([128, 128]);
      expect(isNonBlank({ width: g.w, height: g.h, rgba: Uint8Array.from(g.rgba) })).toBe(true);
    }
    expect(new Set(grid.map((g) => createHash("sha1").update(Uint8Array.from(g.rgba)).digest("hex"))).size).toBe(12);
    const latencies = await page.$$eval("#grid figure", (fs) => fs.map((f) => Number(f.getAttribute("data-latency-ms"))));
    expect(latencies.every((ms) => Number.isFinite(ms) && ms > 0)).toBe(true);
    expect(await page.textContent("#grid figcaption")).toMatch(/\d+ ms/);
    // Morph strip: all five frames decode at the requested size.
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>("#morph-strip img")].every((i) => i.complete), null, { timeout: 60_000 });
    expect(await page.$$eval("#morph-strip img", (imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth))).toEqual([96, 96, 96, 96, 96]);
    // No origin configured here: no student/teacher comparison.
    expect(await page.locator("#compare").isHidden()).toBe(true);
    // The <seed-face> demo renders in this browser (once scrolled near: it is lazy).
    await page.locator("#embed-demo").scrollIntoViewIfNeeded();
    await page.waitForFunction(() => [...document.querySelectorAll("#embed-demo seed-face")].every((f) => f.getAttribute("data-state") === "ready"), null, { timeout: 90_000 });
    expect(await page.$$eval("#embed-demo seed-face", (fs) => fs.map((f) => f.getAttribute("data-path")))).toEqual(["wasm", "wasm", "wasm", "wasm"]);
    await screenshot(page, "playground.png");
    expect(b.errors).toEqual([]);
    await page.close();
  });

});

describe("in Chromium with WebGPU (SwiftShader)", () => {
  let b: Browser;
  beforeAll(async () => { b = await launch({ webgpu: true }); });
  afterAll(async () => b?.close());

  it("<seed-face mode=webgpu> renders with onnxruntime-web's WebGPU provider, matching the edge; mode=browser leaves a software adapter for WASM", async (ctx) => {
    const url = hostPage("webgpu", `${RECORDER}<seed-face id="auto" seed="alice" size="64" psi="0.7" mode="webgpu"></seed-face>
      <seed-face id="browser" seed="bob" size="64" psi="0.7" mode="browser"></seed-face>`);
    const page = await b.newPage();
    await page.goto(url);
    const adapter = await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string } } | null> } }).gpu;
      const a = await gpu?.requestAdapter();
      return a ? `${a.info?.vendor}/${a.info?.architecture}` : null;
    });
    if (!adapter) {
      console.log("[browser] skipping the WebGPU test: Chromium gave no WebGPU adapter even with --enable-unsafe-webgpu");
      ctx.skip();
    }
    console.log(`[browser] WebGPU adapter: ${adapter}`);
    expect(await waitForFace(page, "#auto")).toBe("ready");
    expect(await page.getAttribute("#auto", "data-path")).toBe("webgpu");
    const first = await renderedDetail(page, "#auto");
    timings.webgpu_adapter = adapter;
    timings.webgpu_first_face_ms = first?.ms;
    const client = await facePixels(page, "#auto");
    const db = psnr(rgbOfPixels(client), rgbOf(await serverFace("/face/alice.png?size=64&psi=0.70")));
    timings.webgpu_psnr_db = db;
    console.log(`[browser] WebGPU: first face in ${first?.ms} ms, PSNR vs edge ${db.toFixed(2)} dB`);
    expect(db).toBeGreaterThanOrEqual(30);
    // SwiftShader is a software adapter: mode=browser draws with WASM there (bench:embed: far faster).
    expect(await waitForFace(page, "#browser")).toBe("ready");
    expect(await page.getAttribute("#browser", "data-path")).toBe(/swiftshader/i.test(adapter!) ? "wasm" : "webgpu");
    await screenshot(page, "seed-face-webgpu.png");
    expect(b.errors).toEqual([]);
    await page.close();
  });
});

describe("playground with an origin configured", () => {
  let origin: OriginProcess;
  let edge: WorkerHandle;
  let b: Browser;
  beforeAll(async () => {
    origin = await startTeacherOrigin();
    edge = await startWorker({ distDir: f64.dist, assetsDir: f64.assets, vars: { ORIGIN_URL: origin.url, ORIGIN_TOKEN: TOKEN } });
    b = await launch();
  });
  afterAll(async () => {
    await b?.close();
    await edge?.dispose();
    await origin?.stop();
  });

  it("shows the student (edge) and the teacher (origin) side by side", async () => {
    const page = await b.newPage();
    await page.goto(`${edge.url}/`);
    await page.locator("#compare").waitFor({ state: "visible", timeout: 30_000 });
    await page.waitForFunction(() => ["student", "teacher"].every((m) => /ms/.test(document.getElementById(`cmp-${m}-cap`)?.textContent ?? "")), null, { timeout: 90_000 });
    const imgs = await page.evaluate(() => ["student", "teacher"].map((m) => {
      const img = document.getElementById(`cmp-${m}`) as HTMLImageElement;
      const c = document.createElement("canvas");
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      c.getContext("2d")!.drawImage(img, 0, 0);
      return { width: c.width, height: c.height, rgba: Array.from(c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data) };
    }));
    const [student, teacher] = imgs.map((i) => ({ width: i.width, height: i.height, rgba: Uint8Array.from(i.rgba) })) as [DecodedImage, DecodedImage];
    expect([student.width, teacher.width]).toEqual([128, 128]);
    expect(isNonBlank(student) && isNonBlank(teacher)).toBe(true);
    // The teacher's face comes from the origin: the caption shows its source.
    expect(await page.textContent("#cmp-teacher-cap")).toContain("origin");
    await screenshot(page, "playground-origin.png");
    expect(b.errors).toEqual([]);
    await page.close();
  });
});

describe("morph API", () => {
  it("/morph/A/B.png returns valid PNGs whose end points are the two seeds' faces", async () => {
    const a = await serverFace("/face/alice.png?size=64");
    const bob = await serverFace("/face/bob.png?size=64");
    const t0 = await serverFace("/morph/alice/bob.png?size=64&t=0");
    const t1 = await serverFace("/morph/alice/bob.png?size=64&t=1");
    const mid = await serverFace("/morph/alice/bob.png?size=64&t=0.5");
    for (const img of [t0, t1, mid]) expect([img.width, img.height]).toEqual([64, 64]);
    expect(psnr(rgbOf(t0), rgbOf(a))).toBe(Infinity);
    expect(psnr(rgbOf(t1), rgbOf(bob))).toBe(Infinity);
    expect(isNonBlank(mid)).toBe(true);
    expect(psnr(rgbOf(mid), rgbOf(a))).toBeLessThan(40);
    expect(psnr(rgbOf(mid), rgbOf(bob))).toBeLessThan(40);
    expect(pixelStats(mid).std).toBeGreaterThan(2);
  });
});

describe("in Chromium on a HiDPI screen (devicePixelRatio 2)", () => {
  let b: Browser;
  beforeAll(async () => { b = await launch({ deviceScaleFactor: 2 }); });
  afterAll(async () => b?.close());

  it("<seed-face email=...> hashes the address in the page and asks for a versioned face of size x dpr pixels", async () => {
    const url = hostPage("hidpi", `
      <seed-face id="mail" email="  Alice@Example.COM " size="48" label="Alice"></seed-face>
      <seed-face id="plain" seed="bob" size="40"></seed-face>`);
    const page = await b.newPage();
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.goto(url);
    expect(await page.evaluate(() => devicePixelRatio)).toBe(2);
    expect(await waitForFace(page, "#mail")).toBe("ready");
    expect(await waitForFace(page, "#plain")).toBe("ready");

    const imgOf = (sel: string) => page.evaluate(async (s) => {
      const img = document.querySelector(s)!.shadowRoot!.querySelector("img")!;
      await img.decode();
      const box = img.getBoundingClientRect();
      return { src: img.src, natural: [img.naturalWidth, img.naturalHeight], css: [box.width, box.height] };
    }, sel);
    const info = ((await (await fetch(`${w.url}/v1/models`)).json()) as { models: { id: string; version: string }[] }).models[0]!;
    const hash = createHash("sha256").update("alice@example.com").digest("hex");

    const mail = await imgOf("#mail");
    const u = new URL(mail.src);
    expect(u.pathname).toBe(`/v/${info.id}@${info.version}/face/${hash}.webp`);
    expect(u.searchParams.get("size")).toBe("96");
    expect(mail.natural).toEqual([96, 96]); // drawn at 2x ...
    expect(mail.css).toEqual([48, 48]); // ... shown at the element's size in CSS pixels

    const plain = await imgOf("#plain");
    expect(new URL(plain.src).pathname).toBe(`/v/${info.id}@${info.version}/face/bob.webp`);
    expect(new URL(plain.src).searchParams.get("size")).toBe("80");
    expect(plain.natural).toEqual([80, 80]);

    // The address never leaves the page: no request carries it, in any case or encoding.
    for (const r of requests) expect(decodeURIComponent(r).toLowerCase(), r).not.toContain("alice@example.com");
    expect(b.errors).toEqual([]);
  });
});
