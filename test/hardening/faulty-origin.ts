// A real HTTP server speaking the edge <-> origin contract that fails on demand, for fault-injection tests:
// 500s, non-PNG bytes, truncated PNGs, wrong sizes, answers slower than the edge's timeout, a connection cut
// mid-body, and a process-like death (listener closed, every socket destroyed) followed by a comeback on the
// same port. Good answers are a deterministic gradient PNG of the requested size.
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { makeBearerCheck } from "../../src/shared/bearer.js";
import { ORIGIN_API_PREFIX } from "../../src/shared/contract.js";
import { HttpError } from "../../src/shared/errors.js";
import { parseFacePath } from "../../src/shared/params.js";
import { encodePng } from "../../src/shared/png.js";
import { gradient } from "../helpers/fake-origin.js";

export type Fault = "none" | "error500" | "notpng" | "truncated" | "wrongsize" | "slow" | "cut";

export interface FaultyOrigin {
  url: string;
  fault: Fault;
  /** Delay of the "slow" fault. */
  slowMs: number;
  /** Every request that reached the server: path and Authorization header. */
  requests: { path: string; auth: string | undefined; host: string | undefined }[];
  /** The PNG a good answer carries for a face path (what the edge must serve once the origin is healthy). */
  goodPng(size: number, model: string): Promise<Uint8Array>;
  /** Stop listening and destroy every open connection, in-flight requests included (like a killed process). */
  kill(): Promise<void>;
  /** Listen again on the same port. */
  revive(): Promise<void>;
  close(): Promise<void>;
}

const TINT = { student: 50, teacher: 200 } as Record<string, number>;

export async function startFaultyOrigin(token: string): Promise<FaultyOrigin> {
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;

  const state: FaultyOrigin = {
    url: "",
    fault: "none",
    slowMs: 2000,
    requests: [],
    goodPng: (size, model) => encodePng(gradient(size, TINT[model] ?? 0), size, size),
    kill: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        server.close(() => r());
      }),
    revive: () => listen(port),
    close: () => state.kill(),
  };

  const json = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code, message } }));
  };

  async function handle(req: IncomingMessage, res: ServerResponse) {
    state.requests.push({ path: req.url ?? "", auth: req.headers.authorization, host: req.headers.host });
    if (!makeBearerCheck(token)(req.headers.authorization)) return json(res, 401, "unauthorized", "missing or wrong bearer token");
    const url = new URL(req.url ?? "/", "http://origin");
    let face;
    try {
      face = parseFacePath(url.pathname.slice(ORIGIN_API_PREFIX.length), url.searchParams);
      if (!face || !url.pathname.startsWith(ORIGIN_API_PREFIX + "/")) return json(res, 404, "not_found", "no route");
    } catch (e) {
      if (e instanceof HttpError) return json(res, e.status, e.code, e.message);
      throw e;
    }
    const fault = state.fault;
    if (fault === "error500") return json(res, 500, "internal", "injected failure");
    if (fault === "slow") await new Promise((r) => setTimeout(r, state.slowMs));
    const png = await state.goodPng(fault === "wrongsize" ? face.size + 1 : face.size, face.model);
    const head = { "content-type": "image/png", "x-face-model": `faulty@1/${face.model}-fp32` };
    if (fault === "notpng") {
      res.writeHead(200, head);
      return res.end("<html>not a png</html>");
    }
    if (fault === "truncated") {
      res.writeHead(200, head);
      return res.end(Buffer.from(png.subarray(0, Math.floor(png.length / 2))));
    }
    if (fault === "cut") {
      // Promise the whole body, send half, then drop the connection.
      res.writeHead(200, { ...head, "content-length": String(png.length) });
      res.write(Buffer.from(png.subarray(0, Math.floor(png.length / 2))));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    res.writeHead(200, { ...head, "content-length": String(png.length) });
    res.end(Buffer.from(png));
  }

  async function listen(p: number): Promise<void> {
    server = createServer((req, res) => {
      handle(req, res).catch((e) => json(res, 500, "internal", String(e)));
    });
    server.on("connection", (s) => {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    });
    await new Promise<void>((r, reject) => {
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => r());
    });
    port = (server.address() as AddressInfo).port;
    state.url = `http://127.0.0.1:${port}`;
  }

  await listen(0);
  return state;
}
