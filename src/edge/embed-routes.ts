// Routes for the browser side: the playground at "/", the <seed-face> module at "/embed.js", and everything it loads
// under "/embed/" (render worker, onnxruntime-web's browser runtime, the browser's copy of the model). The files are
// built into dist-assets/ by scripts/build-embed.ts and reach the worker through the static-assets binding ASSETS.
import type { Context, Hono } from "hono";
import { errorBody } from "../shared/errors.js";

export interface EmbedBindings {
  ASSETS?: Fetcher;
}

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  wasm: "application/wasm",
  onnx: "application/octet-stream",
};

// Paths with a version segment never change content: /embed/ort/<ort version>/..., /embed/models/<id>/<version>/...
const VERSIONED = /^\/embed\/(ort\/[^/]+|models\/[^/]+\/[^/]+)\//;
const SAFE_PATH = /^\/[A-Za-z0-9._\-/]+$/;

function jsonError(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify(errorBody(code, message)), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "access-control-allow-origin": "*" },
  });
}

async function fetchAsset(assets: Fetcher, base: string, path: string): Promise<Response> {
  let res = await assets.fetch(new URL(path, base).href);
  // The asset router canonicalises .html paths with a redirect; follow it inside the binding.
  const location = res.headers.get("location");
  if (res.status >= 300 && res.status < 400 && location) res = await assets.fetch(new URL(location, base).href);
  return res;
}

/** Serve one built file; .wasm files are stored gzip-compressed and sent as-is with Content-Encoding: gzip. */
async function serve(c: Context, path: string, cacheControl?: string): Promise<Response> {
  const assets = (c.env as EmbedBindings | undefined)?.ASSETS;
  if (!assets) return jsonError(503, "assets_unavailable", "this deployment has no ASSETS binding (build with `npm run build:embed`)");
  if (!SAFE_PATH.test(path) || path.includes("..")) return jsonError(404, "not_found", `no such file: ${path}`);
  const ext = path.slice(path.lastIndexOf(".") + 1);
  const contentType = CONTENT_TYPES[ext];
  if (!contentType) return jsonError(404, "not_found", `no such file: ${path}`);
  const gz = ext === "wasm";
  const res = await fetchAsset(assets, c.req.url, gz ? `${path}.gz` : path);
  if (res.status !== 200) return jsonError(404, "not_found", `no such file: ${path}`);
  const headers: Record<string, string> = {
    "content-type": contentType,
    "cache-control": cacheControl ?? (VERSIONED.test(path) ? "public, max-age=31536000, immutable" : "public, max-age=300"),
    "access-control-allow-origin": "*",
    // Module scripts and workers loaded cross-origin, and pages that are cross-origin isolated, need these.
    "cross-origin-resource-policy": "cross-origin",
    "x-content-type-options": "nosniff",
  };
  const etag = res.headers.get("etag");
  if (etag) headers.etag = etag;
  if (gz) headers["content-encoding"] = "gzip";
  const body = c.req.method === "HEAD" ? null : res.body;
  // encodeBody "manual": the bytes are already gzip; workerd must not compress them again.
  return new Response(body, { status: 200, headers, ...(gz ? { encodeBody: "manual" as const } : {}) });
}

export function mountEmbedRoutes(app: Hono<any, any, any>): void {
  app.get("/", (c) => serve(c, "/embed/playground.html", "public, max-age=60"));
  app.get("/embed.js", (c) => serve(c, "/embed.js"));
  app.get("/embed/*", (c) => serve(c, new URL(c.req.url).pathname));
}
