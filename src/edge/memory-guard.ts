// Memory guard: decide where a face is drawn so that ORT's wasm memory stays inside the budget.
// ORT's linear memory only grows, so a level's need is estimated as the memory measured once the sessions are
// loaded (the baseline: runtime + weights) plus ACTIVATION_FACTOR x the manifest's peak_activation_bytes of that
// level (ORT's arena and planner hold more than the bare peak). Levels already drawn are known to fit.
import type { Level, Manifest } from "../shared/manifest.js";
import { levelForSize, studentLevels } from "../shared/manifest.js";
import type { FaceRequest } from "../shared/params.js";

export const ACTIVATION_FACTOR = 2;
const MIB = 1024 * 1024;
/** Before the sessions exist: ORT's initial 16 MiB plus twice the bundled model bytes. */
export function baselineEstimate(modelBytes: number): number {
  return 16 * MIB + 2 * modelBytes;
}

export interface GuardState {
  budgetBytes: number;
  /** Memory measured after loading the sessions (or an estimate before that). */
  baselineBytes: number;
  /** Sizes of levels drawn successfully in this isolate. */
  drawn: ReadonlySet<number>;
}

export function levelNeed(level: Level, baselineBytes: number): number {
  return baselineBytes + ACTIVATION_FACTOR * level.peak_activation_bytes;
}

export function levelFits(level: Level, g: GuardState): boolean {
  return g.drawn.has(level.size) || levelNeed(level, g.baselineBytes) <= g.budgetBytes;
}

/** The largest student level within budget, or null. */
export function largestFitting(m: Manifest, g: GuardState): Level | null {
  const fitting = studentLevels(m).filter((l) => levelFits(l, g));
  return fitting[fitting.length - 1] ?? null;
}

export interface EdgeDraw {
  output: string;
  levelSize: number;
  /** Set when the result is a stand-in for a better image (reason for X-Face-Degraded). */
  degraded?: string;
}

export type Plan =
  | { where: "edge"; draw: EdgeDraw }
  | { where: "origin"; fallback: EdgeDraw | null }
  | { where: "none"; reason: string };

/**
 * Where to draw: the student's smallest level >= size at the edge when it fits; the origin for the teacher,
 * for sizes above the model's resolution and for levels beyond the budget (when configured); otherwise the largest
 * level within budget, upscaled, marked degraded. `fallback` is what the edge draws when the origin fails.
 */
export function planRender(m: Manifest, req: FaceRequest, g: GuardState, hasOrigin: boolean): Plan {
  const best = largestFitting(m, g);
  const degradedDraw = (why: string): EdgeDraw | null =>
    best ? { output: best.output, levelSize: best.size, degraded: `${why}; student ${best.size}px upscaled` } : null;
  if (req.model === "teacher") {
    if (!hasOrigin) return { where: "none", reason: "model=teacher is rendered by the origin, and this edge has no ORIGIN_URL" };
    return { where: "origin", fallback: degradedDraw("teacher unavailable") };
  }
  const target = levelForSize(m, req.size);
  const fits = levelFits(target, g);
  if (req.size > m.resolution && hasOrigin) return { where: "origin", fallback: degradedDraw("origin unavailable") };
  if (fits) return { where: "edge", draw: { output: target.output, levelSize: target.size } };
  if (hasOrigin) return { where: "origin", fallback: degradedDraw("origin unavailable") };
  const d = degradedDraw(`level ${target.size}px exceeds the edge memory budget`);
  return d ? { where: "edge", draw: d } : { where: "none", reason: "no student level fits the edge memory budget" };
}
