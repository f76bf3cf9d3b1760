// Debian's Chromium (/usr/bin/chromium, no browser download) driven by playwright-core, for the browser tests:
// a fresh profile per launch, console errors collected, a cross-origin host page server, pixel reads of <seed-face>.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { REPO } from "./worker.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const ARTIFACTS = join(REPO, "test-artifacts");

export interface Browser {
  context: BrowserContext;
  /** The profile directory (each Chromium process of this browser has it in its --user-data-dir). */
  profile: string;
  /** console.error messages and uncaught page errors, from every page of the context. */
  errors: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

export async function launch(opts: { webgpu?: boolean; deviceScaleFactor?: number } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "seedface-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    ...(opts.deviceScaleFactor ? { deviceScaleFactor: opts.deviceScaleFactor } : {}),
    args: [
      "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
      ...(opts.webgpu ? ["--enable-unsafe-webgpu"] : []),
    ],
  });
  const errors: string[] = [];
  const watch = (page: Page) => {
    page.on("console", (m) => { if (m.type() === "error") errors.push(`console: ${m.text()} @ ${m.location().url}`); });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  };
  context.on("page", watch);
  return {
    context,
    profile,
    errors,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A plain HTTP server on another port (so another origin than the worker) serving test host pages. */
export async function hostServer(): Promise<{ origin: string; put(path: string, html: string): string; close(): Promise<void> }> {
  const pages = new Map<string, string>();
  const server = createServer((req, res) => {
    const html = pages.get(new URL(req.url ?? "/", "http://x").pathname);
    res.writeHead(html ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    res.end(html ?? "not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    put: (path, html) => { pages.set(path, html); return origin + path; },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface FacePixels {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Wait until a <seed-face> is ready (or failed); returns its data-state. */
export async function waitForFace(page: Page, selector: string, timeout = 90_000): Promise<string> {
  await page.waitForFunction((sel) => {
    const s = document.querySelector(sel)?.getAttribute("data-state");
    return s === "ready" || s === "error";
  }, selector, { timeout, polling: 100 });
  return (await page.getAttribute(selector, "data-state")) ?? "";
}

/** The pixels a <seed-face> shows: its canvas, or its <img> drawn into a canvas (CORS-clean). */
export async function facePixels(page: Page, selector: string): Promise<FacePixels> {
  const r = await page.evaluate((sel) => {
    const root = document.querySelector(sel)!.shadowRoot!;
    const el = root.querySelector("canvas,img") as HTMLCanvasElement | HTMLImageElement | null;
    if (!el) throw new Error(`${sel} shows nothing`);
    let canvas: HTMLCanvasElement;
    if (el instanceof HTMLCanvasElement) canvas = el;
    else {
      canvas = document.createElement("canvas");
      canvas.width = el.naturalWidth;
      canvas.height = el.naturalHeight;
      canvas.getContext("2d")!.drawImage(el, 0, 0);
    }
    const d = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height);
    return { width: d.width, height: d.height, rgba: Array.from(d.data) };
  }, selector);
  return { width: r.width, height: r.height, rgba: Uint8Array.from(r.rgba) };
}

export async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, name), fullPage });
}
