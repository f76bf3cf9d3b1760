// A tiny real HTTP server that speaks the edge <-> origin contract (src/shared/contract.ts), for testing the edge's
// origin client and its failure modes. It draws a deterministic gradient, not a face (the real origin is tested
// by its own suite). Switch `mode` to make it fail in the ways an origin fails.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { makeBearerCheck } from "../../src/shared/bearer.js";
import { ORIGIN_API_PREFIX } from "../../src/shared/contract.js";
import { HttpError } from "../../src/shared/errors.js";
import { parseFacePath } from "../../src/shared/params.js";
import { encodePng } from "../../src/shared/png.js";

export type OriginMode = "ok" | "error500" | "hang" | "notpng" | "reject400";

export interface FakeOrigin {
  url: string;
  mode: OriginMode;
  requests: { path: string; auth: string | undefined }[];
  close(): Promise<void>;
}

export function gradient(size: number, tint: number): Uint8Array {
  const px = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 3;
      px[i] = (x * 255) / size;
      px[i + 1] = (y * 255) / size;
      px[i + 2] = tint;
    }
  }
  return px;
}

export async function startFakeOrigin(token?: string): Promise<FakeOrigin> {
  const state: FakeOrigin = { url: "", mode: "ok", requests: [], close: async () => {} };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://origin");
    state.requests.push({ path: req.url ?? "", auth: req.headers.authorization });
    const json = (status: number, code: string, message: string) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code, message } }));
    };
    if (token && !makeBearerCheck(token)(req.headers.authorization)) return json(401, "unauthorized", "bad token");
    if (state.mode === "hang") return; // never answers
    if (state.mode === "error500") return json(500, "internal", "boom");
    if (state.mode === "reject400") return json(400, "bad_seed", "the origin refuses this seed");
    const parsed = (() => { try { return parseFacePath(url.pathname.slice(ORIGIN_API_PREFIX.length), url.searchParams); } catch (e) { return e as HttpError; } })();
    if (parsed === null || !url.pathname.startsWith(ORIGIN_API_PREFIX + "/")) return json(404, "not_found", "no route");
    try {
      if (parsed instanceof Error) throw parsed;
      const face = parsed;
      if (state.mode === "notpng") {
        res.writeHead(200, { "content-type": "image/png" });
        return res.end("not a png");
      }
      const png = await encodePng(gradient(face.size, face.model === "teacher" ? 200 : 50), face.size, face.size);
      res.writeHead(200, { "content-type": "image/png", "x-face-model": `fake@1/${face.model}-fp32` });
      res.end(Buffer.from(png));
    } catch (e) {
      if (e instanceof HttpError) return json(e.status, e.code, e.message);
      json(500, "internal", String(e));
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

/** A local URL where nothing listens (a port that was just free). */
export async function deadUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}
