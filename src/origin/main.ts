// `npm run origin -- --port 8788 --models models --token-file token.txt`: the GPU origin server (docs/origin.md).
// Logs are JSON lines on stdout; the "listening" line carries the bound URL (port 0 picks a free port).
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { createOriginApp } from "./app.js";
import { BatchingRunner } from "./batching-runner.js";
import { ConfigError, defaultMaxBatch, loadConfig } from "./config.js";
import type { Log } from "./models.js";
import { loadModel, releaseModel } from "./models.js";

const log: Log = (event, fields = {}) => {
  process.stdout.write(JSON.stringify({ t: new Date().toISOString(), event, ...fields }) + "\n");
};

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`origin: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const { token: _secret, ...shown } = cfg;
  log("config", shown);
  const model = await loadModel(cfg.modelDir, cfg.ep, cfg.threads, log);
  const maxBatch = cfg.maxBatch ?? defaultMaxBatch(model.provider.ep);
  log("batching", { window_ms: cfg.batchWindowMs, max_batch: maxBatch, max_batch_source: cfg.maxBatch === null ? `auto (${model.provider.ep})` : "configured" });
  const runner = new BatchingRunner(model.networks, { windowMs: cfg.batchWindowMs, maxBatch, maxQueue: cfg.maxQueue });
  runner.onFallback = (network, err) => log("batch_fallback", { network, error: String(err).slice(0, 300) });
  const { app, state } = createOriginApp(cfg, model, runner);

  const server = serve({ fetch: app.fetch, port: cfg.port, hostname: cfg.host }, (info: AddressInfo) => {
    const host = info.family === "IPv6" ? `[${info.address}]` : info.address;
    log("listening", { url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${info.port}`, port: info.port, ep: model.provider.ep });
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    state.draining = true;
    log("draining", { signal, inflight: state.inflight, queued: runner.load });
    const timer = setTimeout(() => {
      log("drain_timeout", { ms: cfg.drainTimeoutMs, inflight: state.inflight });
      process.exit(1);
    }, cfg.drainTimeoutMs);
    // Stop accepting connections; requests already accepted (and renders already queued) run to completion.
    const closed = new Promise<void>((r) => server.close(() => r()));
    await runner.drain();
    while (state.inflight > 0) await new Promise((r) => setTimeout(r, 10));
    if ("closeIdleConnections" in server) server.closeIdleConnections();
    await closed;
    await releaseModel(model);
    clearTimeout(timer);
    log("stopped", { signal });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((e) => {
  process.stderr.write(`origin: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
