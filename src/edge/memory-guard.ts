// Memory guard: decide where a face is drawn so that ORT's wasm memory stays inside the budget, and which per-level
// student sessions to release to make room for another.
// ORT's linear memory only grows. The edge runs one session per student level (over the graph pruned to that
// output), created on first use. The estimate of what a level needs is the memory measured once ORT and the mapping
// session are loaded (the baseline) plus the level's session: its weights as held in memory (the pruned graph's
// bytes once known, before that the whole student file: an upper bound) and ACTIVATION_FACTOR x the manifest's
// peak_activation_bytes (ORT's planner holds more than the bare peak). Activations are freed after each run and
// reused by the next (measured: three FFHQ level sessions alive took 76 MB, against 97 MB if they added up), so
// several live sessions need their weights summed plus the largest activation estimate among them. Sessions live
// side by side while that fits the budget; beyond it the least recently used idle ones are released (ORT reuses the
// freed memory for the next session). Levels already drawn in the isolate are known to fit on their own.
import type { Level, Manifest } from "../shared/manifest.js";
import { edgeLevels, edgeMaxSize, levelForSize } from "../shared/manifest.js";
import type { FaceRequest } from "../shared/params.js";

/**
 * Measured with the FFHQ-1024-shaped student (int8 weights kept, per-level pruned sessions): a level's wasm growth on
 * its first run was 1.3-1.4x its peak_activation_bytes at 128 and 256 px; 1.5 leaves a margin.
 */
export const ACTIVATION_FACTOR = 1.5;
const MIB = 1024 * 1024;

/** Before the mapping session exists: ORT's initial 16 MiB plus twice the mapping's bytes as held in memory. */
export function baselineEstimate(mappingBytes: number): number {
  return 16 * MIB + 2 * mappingBytes;
}

export interface GuardState {
  budgetBytes: number;
  /** Memory measured once ORT and the mapping session are loaded (or an estimate before that). */
  baselineBytes: number;
  /** The student's weights as one level session holds them (file bytes, x4 when int8 weights are folded to fp32). */
  weightBytes: number;
  /** Sizes of levels drawn successfully in this isolate. */
  drawn: ReadonlySet<number>;
}

/** Estimated memory of one level's session (weights + activations). */
export function sessionNeed(level: Level, g: Pick<GuardState, "weightBytes">): number {
  return g.weightBytes + ACTIVATION_FACTOR * level.peak_activation_bytes;
}

/** Estimated wasm memory to draw `level` with no other student session alive. */
export function levelNeed(level: Level, g: Pick<GuardState, "baselineBytes" | "weightBytes">): number {
  return g.baselineBytes + sessionNeed(level, g);
}

export function levelFits(level: Level, g: GuardState): boolean {
  return g.drawn.has(level.size) || levelNeed(level, g) <= g.budgetBytes;
}

/** The largest level the edge may draw (edgeLevels) within budget, or null. */
export function largestFitting(m: Manifest, g: GuardState): Level | null {
  const fitting = edgeLevels(m).filter((l) => levelFits(l, g));
  return fitting[fitting.length - 1] ?? null;
}

export interface LiveSession {
  output: string;
  level: Level;
  /** Bytes of the session's (pruned) graph weights as held in memory, when known. */
  weightBytes?: number;
  /** Last use (any monotonic counter). */
  lastUsed: number;
  /** In use by a render now, or still being created: never released. */
  busy: boolean;
}

/**
 * The live sessions to release, least recently used first, so that a session for `next` fits the budget next to
 * the ones that stay. Busy sessions stay; when even releasing every idle one is not enough, all idle ones go.
 */
export function sessionsToEvict(live: readonly LiveSession[], next: Level, g: GuardState): string[] {
  const stay = live.filter((s) => s.output !== next.output);
  const total = () =>
    g.baselineBytes +
    g.weightBytes +
    stay.reduce((n, s) => n + (s.weightBytes ?? g.weightBytes), 0) +
    ACTIVATION_FACTOR * Math.max(next.peak_activation_bytes, ...stay.map((s) => s.level.peak_activation_bytes));
  const evict: string[] = [];
  for (const s of stay.filter((o) => !o.busy).sort((a, b) => a.lastUsed - b.lastUsed)) {
    if (total() <= g.budgetBytes) break;
    evict.push(s.output);
    stay.splice(stay.indexOf(s), 1);
  }
  return evict;
}

export interface EdgeDraw {
  output: string;
  levelSize: number;
  /** Set when the result is a stand-in for a better image (reason for X-Face-Degraded). */
  degraded?: string;
  /** Set when a smaller level than the size calls for is upscaled by design (reason for X-Face-Upscaled). */
  upscaled?: string;
}

export type Plan =
  | { where: "edge"; draw: EdgeDraw }
  | { where: "origin"; fallback: EdgeDraw | null }
  | { where: "none"; reason: string };

/**
 * Where to draw: the level levelForSize picks (the manifest's serving table, else the smallest level >= size) at the
 * edge when it fits; the origin for the teacher, for sizes above the model's resolution or above the manifest's
 * `serving.edge_max_size`, and for levels beyond the budget (when configured). Without an origin: sizes above
 * edge_max_size get the largest edge level upscaled (marked `upscaled`), levels beyond the budget the largest level
 * within budget, upscaled, marked degraded. `fallback` is what the edge draws when the origin fails.
 */
export function planRender(m: Manifest, req: FaceRequest, g: GuardState, hasOrigin: boolean): Plan {
  const best = largestFitting(m, g);
  const degradedDraw = (why: string): EdgeDraw | null =>
    best ? { output: best.output, levelSize: best.size, degraded: `${why}; student ${best.size}px upscaled` } : null;
  if (req.model === "teacher") {
    if (!hasOrigin) return { where: "none", reason: "model=teacher is rendered by the origin, and this edge has no ORIGIN_URL" };
    return { where: "origin", fallback: degradedDraw("teacher unavailable") };
  }
  const maxSize = edgeMaxSize(m);
  if (maxSize !== null && req.size > maxSize) {
    if (hasOrigin) return { where: "origin", fallback: degradedDraw("origin unavailable") };
    const top = levelForSize(m, maxSize);
    if (levelFits(top, g)) {
      const draw: EdgeDraw = { output: top.output, levelSize: top.size };
      if (top.size < req.size) draw.upscaled = `${top.size}px level upscaled: sizes above ${maxSize}px are drawn by the origin, and none is configured`;
      return { where: "edge", draw };
    }
    const d = degradedDraw(`level ${top.size}px exceeds the edge memory budget`);
    return d ? { where: "edge", draw: d } : { where: "none", reason: "no student level fits the edge memory budget" };
  }
  const target = levelForSize(m, req.size);
  const fits = levelFits(target, g);
  if (req.size > m.resolution && hasOrigin) return { where: "origin", fallback: degradedDraw("origin unavailable") };
  if (fits) return { where: "edge", draw: { output: target.output, levelSize: target.size } };
  if (hasOrigin) return { where: "origin", fallback: degradedDraw("origin unavailable") };
  const d = degradedDraw(`level ${target.size}px exceeds the edge memory budget`);
  return d ? { where: "edge", draw: d } : { where: "none", reason: "no student level fits the edge memory budget" };
}
