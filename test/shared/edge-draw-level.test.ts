// edgeDrawLevel (the level <seed-face> draws in the browser) is the level the edge's memory guard plans for a face
// drawn at the edge without an origin, for every size: so a seed gives the edge's face in the browser too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { planRender } from "../../src/edge/memory-guard.js";
import type { Manifest } from "../../src/shared/manifest.js";
import { edgeDrawLevel, parseManifest } from "../../src/shared/manifest.js";
import { SIZE_MAX, SIZE_MIN } from "../../src/shared/params.js";
import { FACES64, TEST_SERVING } from "../helpers/model-dir.js";
import { REPO } from "../../harness/worker.js";

function manifestAt(dir: string): Manifest | null {
  const p = join(dir, "manifest.json");
  return existsSync(p) ? parseManifest(JSON.parse(readFileSync(p, "utf8"))) : null;
}

const faces64 = manifestAt(FACES64);
const cases: [string, Manifest | null][] = [
  ["faces64", faces64],
  ["faces64 with a serving table", faces64 && { ...faces64, networks: { ...faces64.networks, student: { ...faces64.networks.student, serving: TEST_SERVING } } }],
  ["ffhq", manifestAt(join(REPO, "models/ffhq"))],
];

describe("edgeDrawLevel", () => {
  for (const [name, m] of cases) {
    it.skipIf(!m)(`matches the edge's plan without an origin for every size (${name})`, () => {
      const g = { budgetBytes: Infinity, baselineBytes: 0, weightBytes: 0, drawn: new Set<number>() };
      for (let size = SIZE_MIN; size <= SIZE_MAX; size++) {
        const plan = planRender(m!, { kind: "face", seed: "s", size, psi: 0.7, model: "student" }, g, false);
        expect(plan.where, `size ${size}`).toBe("edge");
        if (plan.where === "edge") expect(edgeDrawLevel(m!, size).output, `size ${size}`).toBe(plan.draw.output);
      }
    });
  }
});
