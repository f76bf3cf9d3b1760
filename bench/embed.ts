// Page-level cost of <seed-face> (not a test): headless Chromium loads a page with 20 <seed-face size="128">
// (distinct seeds) from a local worker (Miniflare/workerd) whose default model is FFHQ (models/ffhq, built into a
// scratch folder: models/default.json is not touched), once per mode, modes interleaved, several runs:
//   img-edge-miss  <img> (mode="server"), fresh profile, seeds the edge has never drawn (it renders all 20)
//   img-cold       <img>, fresh profile, faces already in the edge's cache
//   img-warm       <img>, same profile again (browser HTTP cache)
//   wasm-cold      in-browser WASM (mode="wasm"), fresh profile: ORT's wasm and the model downloaded
//   wasm-warm      same profile again: model in Cache Storage, ORT's wasm in the HTTP cache
//   webgpu-cold/warm  the same with mode="webgpu" and --enable-unsafe-webgpu (SwiftShader here), capped
// Per page load: time from navigation start until all 20 faces are painted (the frame after the last
// seedface:render), the first face, bytes the server sent (counted by a proxy in front of the worker, by kind),
// main-thread long tasks (PerformanceObserver: count, total, blocking time beyond 50 ms each), and the memory of
// Chromium's renderer processes (PSS, peak while loading; the render worker runs in the page's renderer).
// Usage: npm run bench:embed [-- --runs 5 --webgpu-runs 1 --webgpu-cap-s 150 --no-webgpu | --report-only]
// Writes bench/results/embed.json and its section of docs/benchmarks.md.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { Agent, request as httpRequest, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { edgeDrawLevel, edgeFileBytes, parseManifest } from "../src/shared/manifest.js";
import type { Browser } from "../harness/chromium.js";
import { CHROMIUM, hostServer, launch } from "../harness/chromium.js";
import { FFHQ, buildWithEmbed, hasFfhq, linkedModels } from "../harness/embed-build.js";
import { REPO, startWorker } from "../harness/worker.js";
import { parseFlags } from "../harness/flags.js";
import { embedSection, spliceSection } from "./report.js";

const { values: FLAGS } = parseFlags({
  strings: ["runs", "webgpu-runs", "webgpu-cap-s"],
  booleans: ["no-webgpu", "report-only"],
  usage: "npm run bench:embed [-- --runs 5 --webgpu-runs 1 --webgpu-cap-s 150 --no-webgpu | --report-only]",
});
const arg = (name: "runs" | "webgpu-runs" | "webgpu-cap-s", def: string): string => FLAGS[name] ?? def;
const RUNS = Number(arg("runs", process.env.BENCH_EMBED_RUNS ?? "5"));
const WEBGPU_RUNS = FLAGS["no-webgpu"] ? 0 : Number(arg("webgpu-runs", process.env.BENCH_EMBED_WEBGPU_RUNS ?? "1"));
const WEBGPU_CAP_MS = 1000 * Number(arg("webgpu-cap-s", process.env.BENCH_EMBED_WEBGPU_CAP_S ?? "150"));
const CAP_MS = 180_000;
const N = 20;
const SIZE = 128;
const SEEDS = Array.from({ length: N }, (_, i) => `avatar-${i}@example.com`);

// ---- a proxy in front of the worker that counts the bytes it sends back, by kind of file --------------------------
type Kind = "faces" | "model" | "ort" | "embed" | "other";
function kindOf(path: string): Kind {
  if (path.startsWith("/face/")) return "faces";
  if (path.startsWith("/embed/models")) return "model";
  if (path.startsWith("/embed/ort/")) return "ort";
  if (path.startsWith("/embed")) return "embed";
  return "other";
}
interface Traffic { bytes: Record<Kind, number>; requests: Record<Kind, number>; statuses: Record<string, number> }
const emptyTraffic = (): Traffic => ({
  bytes: { faces: 0, model: 0, ort: 0, embed: 0, other: 0 },
  requests: { faces: 0, model: 0, ort: 0, embed: 0, other: 0 },
  statuses: {},
});

// One upstream connection per request: workerd (Miniflare) closes idle keep-alive connections while its isolate is
// busy drawing faces, and a request written into a connection just as it closes fails (an artifact of a local
// proxy, which browsers avoid by retrying). Bodies are not needed: the browser only sends GET/HEAD here.
const upstreamAgent = new Agent({ keepAlive: false });

async function countingProxy(target: string): Promise<{ url: string; traffic: Traffic; reset(): void; close(): Promise<void> }> {
  const t = new URL(target);
  let traffic = emptyTraffic();
  const server = createServer((req, res) => {
    const kind = kindOf(new URL(req.url ?? "/", "http://x").pathname);
    const forward = (attempt: number) => {
      const up = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host }, agent: upstreamAgent }, (r) => {
        const head = `HTTP/1.1 ${r.statusCode} ${r.statusMessage}\r\n` + Object.entries(r.headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") + "\r\n";
        traffic.bytes[kind] += head.length;
        traffic.requests[kind]++;
        traffic.statuses[String(r.statusCode)] = (traffic.statuses[String(r.statusCode)] ?? 0) + 1;
        res.writeHead(r.statusCode ?? 502, r.statusMessage, r.headers);
        r.on("data", (d: Buffer) => { traffic.bytes[kind] += d.length; });
        r.pipe(res);
      });
      up.on("error", (e) => {
        if (res.headersSent) return res.destroy();
        if (attempt < 2) return forward(attempt + 1); // as a browser retries a GET on a failed connection
        traffic.statuses[`proxy error ${(e as NodeJS.ErrnoException).code ?? e.message}`] = (traffic.statuses[`proxy error ${(e as NodeJS.ErrnoException).code ?? e.message}`] ?? 0) + 1;
        res.writeHead(502);
        res.end();
      });
      up.end();
    };
    req.resume();
    forward(0);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get traffic() { return traffic; },
    reset() { traffic = emptyTraffic(); },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// ---- memory of the browser's processes (Linux /proc) ------------------------------------------------------------
function pssKb(pid: string): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
/** PSS (MiB) of the profile's renderer processes (pages and their workers) and of its GPU process. */
function browserMemory(profile: string): { renderer_mb: number; gpu_mb: number } | null {
  let renderer = 0, gpu = 0, found = false;
  const procs = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  const byParent = new Map<string, string[]>();
  const cmd = new Map<string, string>();
  for (const pid of procs) {
    try {
      cmd.set(pid, readFileSync(`/proc/${pid}/cmdline`, "utf8"));
      const ppid = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]!;
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid]);
    } catch { /* gone */ }
  }
  // Renderers name the profile; the GPU process is a child of the zygote that does.
  const mine = new Set([...cmd].filter(([, c]) => c.includes(`--user-data-dir=${profile}`)).map(([p]) => p));
  for (const p of [...mine]) for (const c of byParent.get(p) ?? []) mine.add(c);
  for (const pid of mine) {
    const c = cmd.get(pid) ?? "";
    if (c.includes("--type=renderer") && !c.includes("--top-chrome-webui")) { renderer += pssKb(pid); found = true; }
    else if (c.includes("--type=gpu-process")) gpu += pssKb(pid);
  }
  return found ? { renderer_mb: +(renderer / 1024).toFixed(1), gpu_mb: +(gpu / 1024).toFixed(1) } : null;
}

// ---- one page load ----------------------------------------------------------------------------------------------
const RECORDER = `<script>
window.__bench = { renders: [], longtasks: [], painted: null, settled: false, errors: [] };
try { new PerformanceObserver((l) => { for (const e of l.getEntries()) __bench.longtasks.push([e.startTime, e.duration]); })
  .observe({ type: "longtask", buffered: true }); } catch (e) { __bench.longtasksUnsupported = String(e); }
addEventListener("seedface:render", (e) => {
  __bench.renders.push({ t: performance.now(), path: e.detail.path, level: e.detail.level, fallback: e.detail.fallback });
  if (__bench.renders.length === ${N}) requestAnimationFrame(() => requestAnimationFrame(() => { __bench.painted = performance.now(); __bench.settled = true; }));
});
addEventListener("seedface:error", () => { __bench.errors.push("error"); if (__bench.renders.length + __bench.errors.length === ${N}) __bench.settled = true; });
</script>`;

interface Load {
  mode: string;
  run: number;
  done: number;
  /** Elements that failed (seedface:error). */
  errors: number;
  all_painted_ms: number | null;
  first_face_ms: number | null;
  /** Time between consecutive faces after the first (median), ms. */
  per_face_ms: number | null;
  paths: Record<string, number>;
  levels: Record<string, number>;
  bytes: number;
  bytes_by_kind: Record<Kind, number>;
  requests: number;
  statuses: Record<string, number>;
  longtasks: number;
  longtask_ms: number;
  blocking_ms: number;
  renderer_peak_mb: number | null;
  gpu_peak_mb: number | null;
  capped?: boolean;
}

function chromiumVersion(): string {
  try {
    return /Chromium [\d.]+/.exec(execFileSync(CHROMIUM, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }))?.[0] ?? "Chromium";
  } catch {
    return "Chromium";
  }
}

function median(xs: number[]): number | null {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function pageLoad(b: Browser, proxy: Awaited<ReturnType<typeof countingProxy>>, hostUrl: string, mode: string, run: number, capMs: number): Promise<Load> {
  const page: Page = await b.newPage();
  proxy.reset();
  let peak = { renderer_mb: 0, gpu_mb: 0 };
  const sample = () => {
    const m = browserMemory(b.profile);
    if (m) peak = { renderer_mb: Math.max(peak.renderer_mb, m.renderer_mb), gpu_mb: Math.max(peak.gpu_mb, m.gpu_mb) };
  };
  const timer = setInterval(sample, 250);
  let capped = false;
  try {
    await page.goto(hostUrl);
    await page.waitForFunction(() => (window as unknown as { __bench: { settled: boolean } }).__bench.settled, null, { timeout: capMs, polling: 100 })
      .catch(() => { capped = true; });
    sample();
  } finally {
    clearInterval(timer);
  }
  const r = await page.evaluate(() => (window as unknown as { __bench: { renders: { t: number; path: string; level?: string }[]; longtasks: [number, number][]; painted: number | null; errors: string[] } }).__bench);
  if (r.errors.length) console.warn(`[bench:embed] ${mode} run ${run}: ${r.errors.length} element(s) failed (seedface:error)`);
  await page.close();
  const end = r.painted ?? Infinity;
  const tasks = r.longtasks.filter(([start]) => start <= end);
  const ts = r.renders.map((x) => x.t);
  const gaps = ts.slice(1).map((t, i) => t - ts[i]!);
  const count = (xs: (string | undefined)[]) => xs.reduce<Record<string, number>>((o, x) => ((o[x ?? "none"] = (o[x ?? "none"] ?? 0) + 1), o), {});
  const tr = proxy.traffic;
  return {
    mode, run, done: r.renders.length, errors: r.errors.length,
    all_painted_ms: r.painted === null ? null : Math.round(r.painted),
    first_face_ms: ts.length ? Math.round(ts[0]!) : null,
    per_face_ms: gaps.length ? Math.round(median(gaps)!) : null,
    paths: count(r.renders.map((x) => x.path)),
    levels: count(r.renders.map((x) => x.level)),
    bytes: Object.values(tr.bytes).reduce((a, x) => a + x, 0),
    bytes_by_kind: { ...tr.bytes },
    requests: Object.values(tr.requests).reduce((a, x) => a + x, 0),
    statuses: { ...tr.statuses },
    longtasks: tasks.length,
    longtask_ms: Math.round(tasks.reduce((a, [, d]) => a + d, 0)),
    blocking_ms: Math.round(tasks.reduce((a, [, d]) => a + Math.max(0, d - 50), 0)),
    renderer_peak_mb: peak.renderer_mb || null,
    gpu_peak_mb: peak.gpu_mb || null,
    ...(capped ? { capped } : {}),
  };
}

function summarize(loads: Load[]) {
  const modes = [...new Set(loads.map((l) => l.mode))];
  return Object.fromEntries(modes.map((m) => {
    const ls = loads.filter((l) => l.mode === m);
    const med = (f: (l: Load) => number | null) => {
      const v = median(ls.map(f).filter((x): x is number => x !== null));
      return v === null ? null : Math.round(v * 10) / 10;
    };
    const finished = ls.filter((l) => l.all_painted_ms !== null);
    return [m, {
      runs: ls.length,
      finished: finished.length,
      all_painted_ms: med((l) => l.all_painted_ms),
      all_painted_min_ms: finished.length ? Math.min(...finished.map((l) => l.all_painted_ms!)) : null,
      all_painted_max_ms: finished.length ? Math.max(...finished.map((l) => l.all_painted_ms!)) : null,
      first_face_ms: med((l) => l.first_face_ms),
      per_face_ms: med((l) => l.per_face_ms),
      // For capped runs: the first face plus 19 steady faces.
      projected_all_ms: finished.length ? null : med((l) => (l.first_face_ms !== null && l.per_face_ms !== null ? l.first_face_ms + (N - 1) * l.per_face_ms : null)),
      faces_done: med((l) => l.done),
      errors: ls.reduce((a, l) => a + l.errors, 0),
      bytes: med((l) => l.bytes),
      model_bytes: med((l) => l.bytes_by_kind.model),
      ort_bytes: med((l) => l.bytes_by_kind.ort),
      face_bytes: med((l) => l.bytes_by_kind.faces),
      embed_bytes: med((l) => l.bytes_by_kind.embed),
      requests: med((l) => l.requests),
      longtasks: med((l) => l.longtasks),
      longtask_ms: med((l) => l.longtask_ms),
      blocking_ms: med((l) => l.blocking_ms),
      renderer_peak_mb: med((l) => l.renderer_peak_mb),
      gpu_peak_mb: med((l) => l.gpu_peak_mb),
      paths: ls[0]?.paths,
      levels: ls[0]?.levels,
    }];
  }));
}

type ModeSummary = ReturnType<typeof summarize>[string];

/**
 * The default, from the summary. The comparison that decides: an in-browser path with everything cached (its best
 * case) against <img> for a visitor new to the page whose faces the edge has already drawn (the common case: faces
 * are cached by seed at the edge for a year). img-edge-miss is reported as well: the edge's worst case, one isolate
 * drawing all 20 faces in turn.
 */
function decide(summary: Record<string, ModeSummary>) {
  const img = summary["img-cold"], imgMiss = summary["img-edge-miss"], wasmWarm = summary["wasm-warm"], gpuWarm = summary["webgpu-warm"];
  const faster = (a: ModeSummary | undefined, b: ModeSummary | undefined) =>
    !!a && !!b && a.all_painted_ms !== null && b.all_painted_ms !== null && a.all_painted_ms < b.all_painted_ms;
  const overlap = (a: ModeSummary | undefined, b: ModeSummary | undefined) =>
    !!a && !!b && a.all_painted_min_ms !== null && b.all_painted_min_ms !== null && a.all_painted_min_ms <= b.all_painted_max_ms! && b.all_painted_min_ms <= a.all_painted_max_ms!;
  const browserWins = faster(wasmWarm, img) || faster(gpuWarm, img);
  const vsMiss = !wasmWarm || !imgMiss ? "" : overlap(wasmWarm, imgMiss)
    ? " (against an edge that has to draw all 20 faces itself, in one isolate, WASM with a warm model was about as fast: their ranges overlap)"
    : faster(wasmWarm, imgMiss) ? " (only an edge that has to draw all 20 faces itself, in one isolate, was slower)" : ", and even when the edge had to draw every face";
  return {
    default: browserWins ? "browser" : "img",
    wasm_warm_vs_img_cold: wasmWarm && img ? `${wasmWarm.all_painted_ms} ms vs ${img.all_painted_ms} ms` : null,
    wasm_warm_vs_img_edge_miss: wasmWarm && imgMiss ? `${wasmWarm.all_painted_ms} ms vs ${imgMiss.all_painted_ms} ms` : null,
    rule: browserWins
      ? "an in-browser path painted 20 avatars before the <img> path: review the auto rule in src/embed/seed-face.ts"
      : `<img> painted 20 avatars before in-browser rendering, even with the model already in Cache Storage${vsMiss}: auto = <img>; in-browser rendering is opt-in (mode=browser|wasm|webgpu)`,
  };
}

/** --report-only: recompute the decision and rewrite the docs section from bench/results/embed.json. */
function reportOnly(): void {
  const file = join(REPO, "bench/results/embed.json");
  const out = JSON.parse(readFileSync(file, "utf8"));
  out.decision = decide(out.modes);
  writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
  const md = join(REPO, "docs/benchmarks.md");
  if (existsSync(md)) writeFileSync(md, spliceSection(readFileSync(md, "utf8"), embedSection(out)));
  console.log(embedSection(out).body);
}

async function main() {
  if (FLAGS["report-only"]) return reportOnly();
  if (!hasFfhq) throw new Error(`${FFHQ}/manifest.json missing: bench:embed measures the FFHQ model (npm run models:ffhq)`);
  const tmp = mkdtempSync(join(tmpdir(), "seedface-bench-embed-"));
  const log = (s: string) => process.stdout.write(`[bench:embed] ${s}\n`);
  try {
    const models = linkedModels(join(tmp, "models"), "ffhq", FFHQ);
    const t0 = Date.now();
    const build = await buildWithEmbed(join(tmp, "build"), models);
    log(`built the worker and assets with ffhq as the default model in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const manifest = parseManifest(JSON.parse(readFileSync(join(FFHQ, "manifest.json"), "utf8")));
    const w = await startWorker({ distDir: build.dist, assetsDir: build.assets });
    const proxy = await countingProxy(w.url);
    const host = await hostServer();
    const page = (name: string, mode: string, seeds: string[]) => host.put(`/${name}.html`,
      `<!doctype html><html lang="en"><meta charset="utf-8"><link rel="icon" href="data:,"><title>${name}</title>${RECORDER}` +
      `<script type="module" src="${proxy.url}/embed.js"></script><body style="margin:8px">` +
      seeds.map((s) => `<seed-face seed="${s}" size="${SIZE}" mode="${mode}"></seed-face>`).join("") + "</body></html>");
    // The edge's cache holds SEEDS (and its sessions are warm) before the first measured load.
    for (const s of SEEDS) {
      const res = await fetch(`${w.url}/face/${encodeURIComponent(s)}.png?size=${SIZE}`);
      if (res.status !== 200) throw new Error(`prewarm ${s}: HTTP ${res.status}`);
      await res.arrayBuffer();
    }
    const faceBytes = (await (await fetch(`${w.url}/face/${encodeURIComponent(SEEDS[0]!)}.png?size=${SIZE}`)).arrayBuffer()).byteLength;
    log(`edge cache warmed with ${N} faces (${faceBytes} bytes for the first); runs: ${RUNS} (+ WebGPU ${WEBGPU_RUNS})`);

    const loads: Load[] = [];
    const record = (l: Load) => {
      loads.push(l);
      log(`run ${l.run} ${l.mode.padEnd(13)} all painted ${l.all_painted_ms ?? `capped (${l.done}/${N})`} ms, first ${l.first_face_ms} ms, ` +
        `${(l.bytes / 1e6).toFixed(2)} MB, long tasks ${l.longtasks} (${l.longtask_ms} ms), renderer ${l.renderer_peak_mb} MB, paths ${JSON.stringify(l.paths)}`);
    };
    const groups: Record<string, (run: number) => Promise<void>> = {
      "img-edge-miss": async (run) => {
        const b = await launch();
        try {
          const seeds = SEEDS.map((s) => `miss-${run}-${Date.now()}-${s}`);
          record(await pageLoad(b, proxy, page(`miss-${run}`, "server", seeds), "img-edge-miss", run, CAP_MS));
        } finally { await b.close(); }
      },
      img: async (run) => {
        const b = await launch();
        try {
          const url = page("img", "server", SEEDS);
          record(await pageLoad(b, proxy, url, "img-cold", run, CAP_MS));
          record(await pageLoad(b, proxy, url, "img-warm", run, CAP_MS));
        } finally { await b.close(); }
      },
      wasm: async (run) => {
        const b = await launch();
        try {
          const url = page("wasm", "wasm", SEEDS);
          record(await pageLoad(b, proxy, url, "wasm-cold", run, CAP_MS));
          record(await pageLoad(b, proxy, url, "wasm-warm", run, CAP_MS));
        } finally { await b.close(); }
      },
    };
    const names = Object.keys(groups);
    for (let run = 1; run <= RUNS; run++) {
      // Interleaved, and the order rotated each run, so that drift in the machine's load hits every mode alike.
      for (let i = 0; i < names.length; i++) await groups[names[(i + run - 1) % names.length]!]!(run);
    }

    let webgpu: { adapter: string | null; note: string } = { adapter: null, note: "not run (--no-webgpu)" };
    for (let run = 1; run <= WEBGPU_RUNS; run++) {
      const b = await launch({ webgpu: true });
      try {
        const probe = await b.newPage();
        await probe.goto(page("probe", "server", []));
        const adapter = await probe.evaluate(async () => {
          const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string; description?: string } } | null> } }).gpu;
          if (!gpu) return null;
          const a = await gpu.requestAdapter();
          return a ? `${a.info?.vendor || "?"}/${a.info?.architecture || "?"}${a.info?.description ? ` (${a.info.description})` : ""}` : null;
        });
        await probe.close();
        webgpu = { adapter, note: adapter ? "--enable-unsafe-webgpu; a software adapter (SwiftShader on the CPU), not representative of real GPUs" : "Chromium gave no WebGPU adapter" };
        if (!adapter) break;
        const url = page("webgpu", "webgpu", SEEDS);
        record(await pageLoad(b, proxy, url, "webgpu-cold", run, WEBGPU_CAP_MS));
        record(await pageLoad(b, proxy, url, "webgpu-warm", run, WEBGPU_CAP_MS));
      } finally { await b.close(); }
    }

    const summary = summarize(loads);
    const decision = decide(summary);
    const out = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", memory_gib: +(totalmem() / 2 ** 30).toFixed(1), loadavg: loadavg() },
      chromium: chromiumVersion(),
      page: { elements: N, size: SIZE, seeds: "distinct", host: "another origin than the worker (cross-origin embed)", transport: "HTTP/1.1 on localhost (no network latency)" },
      model: {
        id: manifest.id, version: manifest.version, level_for_size: edgeDrawLevel(manifest, SIZE).output,
        edge_files: edgeFileBytes(manifest),
        png_bytes_128: faceBytes,
      },
      runs: RUNS,
      webgpu_runs: WEBGPU_RUNS,
      webgpu_cap_s: WEBGPU_CAP_MS / 1000,
      webgpu,
      modes: summary,
      decision,
      loads,
    };
    mkdirSync(join(REPO, "bench/results"), { recursive: true });
    writeFileSync(join(REPO, "bench/results/embed.json"), JSON.stringify(out, null, 2) + "\n");
    const md = join(REPO, "docs/benchmarks.md");
    if (existsSync(md)) writeFileSync(md, spliceSection(readFileSync(md, "utf8"), embedSection(out)));
    log("wrote bench/results/embed.json and its section of docs/benchmarks.md");
    console.log(embedSection(out).body);
    await host.close();
    await proxy.close();
    await w.dispose();
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
