// Unit tests of the edge's decision logic (no workerd needed: these modules are plain TypeScript).
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/edge/circuit-breaker.js";
import { parseOrigins } from "../../src/edge/config.js";
import { Coalescer } from "../../src/shared/coalesce.js";
import { ACTIVATION_FACTOR, levelNeed, planRender, sessionNeed, sessionsToEvict } from "../../src/edge/memory-guard.js";
import { originOrder } from "../../src/edge/origin-client.js";
import type { Manifest } from "../../src/shared/manifest.js";
import { parseManifest, studentLevels } from "../../src/shared/manifest.js";
import { parseFaceRequest, SIZE_MAX } from "../../src/shared/params.js";

const repo = resolve(import.meta.dirname, "../..");
const id = JSON.parse(readFileSync(resolve(repo, "models/default.json"), "utf8")).default;
const m = parseManifest(JSON.parse(readFileSync(resolve(repo, `models/${id}/manifest.json`), "utf8")));
const req = (q: string) => parseFaceRequest("alice.png", new URLSearchParams(q));
/** The manifest without its serving table, if any: the plain rule (smallest level >= size) decides. */
const plain = (x: Manifest): Manifest => {
  const { serving: _serving, ...student } = x.networks.student;
  return { ...x, networks: { ...x.networks, student } };
};
/** The default model, and faces64 (a 64 px model: sizes above its resolution exist) when it is another. */
const models: [string, Manifest][] = [[id, m]];
const faces64 = resolve(repo, "models/faces64/manifest.json");
if (id !== "faces64" && existsSync(faces64)) models.push(["faces64", parseManifest(JSON.parse(readFileSync(faces64, "utf8")))]);

describe("circuit breaker", () => {
  it("opens after N failures, lets one probe through after the cool-down, closes on success", () => {
    let now = 0;
    const b = new CircuitBreaker(2, 1000, () => now);
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state).toBe("closed");
    b.failure();
    expect(b.state).toBe("open");
    expect(b.allow()).toBe(false);
    now = 1000;
    expect(b.state).toBe("half-open");
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false); // only one probe
    b.failure();
    expect(b.state).toBe("open");
    now = 2000;
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.state).toBe("closed");
  });
});

describe.each(models)("memory guard plan (%s, without a serving table)", (_name, model) => {
  const mp = plain(model);
  const levels = studentLevels(mp);
  const top = levels[levels.length - 1]!;
  const roomy = { budgetBytes: 1e12, baselineBytes: 20e6, weightBytes: 2e6, drawn: new Set<number>() };
  it("draws the smallest level >= size at the edge when it fits", () => {
    for (const size of [16, 40, 100, top.size].filter((s) => s <= top.size)) {
      const p = planRender(mp, req(`size=${size}`), roomy, false);
      expect(p.where).toBe("edge");
      if (p.where === "edge") expect(p.draw.levelSize).toBe(levels.find((l) => l.size >= size)!.size);
    }
  });
  it("above the resolution: origin when configured, else native + upscale (not degraded)", (ctx) => {
    ctx.skip(top.size >= SIZE_MAX, `${mp.id} is ${top.size} px: no request size (max ${SIZE_MAX}) is above it`);
    const above = Math.min(SIZE_MAX, top.size * 2);
    expect(planRender(mp, req(`size=${above}`), roomy, true).where).toBe("origin");
    const p = planRender(mp, req(`size=${above}`), roomy, false);
    expect(p.where === "edge" && p.draw.levelSize === top.size && !p.draw.degraded).toBe(true);
  });
  it("beyond the budget: origin if configured, else the largest fitting level, degraded", () => {
    const below = levels[levels.length - 2]!;
    const tight = { ...roomy, budgetBytes: (levelNeed(below, roomy) + levelNeed(top, roomy)) / 2 };
    const o = planRender(mp, req(`size=${top.size}`), tight, true);
    expect(o.where === "origin" && o.fallback?.levelSize === below.size).toBe(true);
    const d = planRender(mp, req(`size=${top.size}`), tight, false);
    expect(d.where === "edge" && d.draw.levelSize === below.size && d.draw.degraded).toBeTruthy();
    // a level already drawn in this isolate is known to fit
    const drawn = planRender(mp, req(`size=${top.size}`), { ...tight, drawn: new Set([top.size]) }, false);
    expect(drawn.where === "edge" && !drawn.draw.degraded).toBe(true);
  });
  it("teacher needs an origin", () => {
    expect(planRender(mp, req("model=teacher"), roomy, false).where).toBe("none");
    expect(planRender(mp, req("model=teacher"), roomy, true).where).toBe("origin");
  });
});

describe("memory guard with a serving table", () => {
  const outs = studentLevels(m);
  const small = outs[outs.length - 2]!, top = outs[outs.length - 1]!;
  const served = parseManifest({
    ...m,
    networks: { ...m.networks, student: { ...m.networks.student, serving: { edge_max_size: small.size, sizes: [{ up_to: small.size, output: small.output }] } } },
  });
  const roomy = { budgetBytes: 1e12, baselineBytes: 20e6, weightBytes: 2e6, drawn: new Set<number>() };
  it("sizes above edge_max_size: origin when configured, else the edge_max_size level upscaled (not degraded)", () => {
    const o = planRender(served, req(`size=${small.size + 1}`), roomy, true);
    expect(o.where === "origin" && o.fallback?.levelSize === small.size && o.fallback.degraded).toBeTruthy();
    const e = planRender(served, req(`size=${top.size}`), roomy, false);
    expect(e.where === "edge" && e.draw.output === small.output && e.draw.upscaled && !e.draw.degraded).toBeTruthy();
    const at = planRender(served, req(`size=${small.size}`), roomy, true);
    expect(at.where === "edge" && at.draw.output === small.output && !at.draw.upscaled).toBeTruthy();
  });
});

describe("level session eviction", () => {
  const levels = studentLevels(m);
  const [a, b, c] = levels.slice(-3) as [typeof levels[0], typeof levels[0], typeof levels[0]];
  const g = { budgetBytes: 0, baselineBytes: 20e6, weightBytes: 5e6, drawn: new Set<number>() };
  const live = [
    { output: a.output, level: a, lastUsed: 2, busy: false, weightBytes: 3e6 },
    { output: b.output, level: b, lastUsed: 1, busy: false },
  ];
  const act = (...ls: (typeof a)[]) => ACTIVATION_FACTOR * Math.max(...ls.map((l) => l.peak_activation_bytes));
  it("keeps sessions whose weights plus the largest activations fit, releases the least recently used idle ones otherwise", () => {
    // weights add up (a's measured 3e6, b's and c's unknown: the whole student's 5e6), activations do not
    const all = 20e6 + 3e6 + 5e6 + 5e6 + act(a, b, c);
    expect(sessionsToEvict(live, c, { ...g, budgetBytes: all })).toEqual([]);
    expect(sessionsToEvict(live, c, { ...g, budgetBytes: all - 1 })).toEqual([b.output]);
    expect(sessionsToEvict(live, c, { ...g, budgetBytes: 20e6 + 5e6 + act(c) })).toEqual([b.output, a.output]);
    // a busy session is never released, even when the budget is short
    expect(sessionsToEvict([{ ...live[0]!, busy: true }, live[1]!], c, { ...g, budgetBytes: 1 })).toEqual([b.output]);
    // the level being created is not counted twice
    expect(sessionsToEvict([{ output: c.output, level: c, lastUsed: 3, busy: false }], c, { ...g, budgetBytes: 20e6 + sessionNeed(c, g) })).toEqual([]);
  });
});

describe("origin selection", () => {
  it("only http(s) URLs from config count", () => {
    expect(parseOrigins(" https://a.example/ ,ftp://x, nonsense,http://b:8080")).toEqual(["https://a.example", "http://b:8080"]);
  });
  it("picks the first origin by seed hash, then fails over through all of them", async () => {
    const origins = ["http://a", "http://b", "http://c"];
    const firsts = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const order = await originOrder(parseFaceRequest(`s${i}.png`, new URLSearchParams()), origins);
      expect([...order].sort()).toEqual(origins);
      expect(order).toEqual(await originOrder(parseFaceRequest(`s${i}.png`, new URLSearchParams("size=64")), origins));
      firsts.add(order[0]!);
    }
    expect(firsts.size).toBe(3);
  });
});

describe("coalescer", () => {
  it("shares one run per key until it settles", async () => {
    const c = new Coalescer<number>();
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const fn = async () => {
      runs++;
      await gate;
      return 42;
    };
    const a = c.run("k", fn), b = c.run("k", fn), other = c.run("j", fn);
    expect([a.shared, b.shared, other.shared]).toEqual([false, true, false]);
    release();
    expect(await Promise.all([a.promise, b.promise, other.promise])).toEqual([42, 42, 42]);
    expect(runs).toBe(2);
  });
});
