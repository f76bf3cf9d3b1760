// One JSON Schema for manifest.json (src/shared/manifest.schema.json): the Python tools validate with it
// (training/seedface/release/manifest.py). Until the TypeScript loader validates with it too (a schema validator
// that runs in workerd needs a dependency: see training/README.md), this keeps the two in agreement: on every
// committed manifest and on broken variants of them, parseAnyManifest and the schema say the same.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAnyManifest } from "../../src/shared/manifest.js";

const REPO = resolve(import.meta.dirname, "../..");
const SCHEMA = JSON.parse(readFileSync(join(REPO, "src/shared/manifest.schema.json"), "utf8"));
const committed = readdirSync(join(REPO, "models"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(REPO, "models", d.name, "manifest.json")))
  .map((d) => ({ id: d.name, manifest: JSON.parse(readFileSync(join(REPO, "models", d.name, "manifest.json"), "utf8")) }));

/** The Python validator's verdict (schema + cross-field rules, no file checks) for each manifest: null = valid. */
function pythonVerdicts(manifests: unknown[]): (string | null)[] {
  const code = [
    "import json, sys",
    "from seedface.release import manifest as mf",
    "out = []",
    "for m in json.load(sys.stdin):",
    "    try:",
    "        mf.validate(m); out.append(None)",
    "    except mf.ManifestError as e:",
    "        out.append(str(e))",
    "print(json.dumps(out))",
  ].join("\n");
  const stdout = execFileSync(join(REPO, "training/.venv/bin/python"), ["-c", code], {
    input: JSON.stringify(manifests),
    env: { ...process.env, PYTHONPATH: join(REPO, "training") },
    encoding: "utf8",
  });
  return JSON.parse(stdout);
}

function tsVerdict(m: unknown): string | null {
  try {
    parseAnyManifest(m);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));
const breakages: [string, (m: any) => void][] = [
  ["wrong format", (m) => { m.format = "seedface-model/0"; }],
  ["unknown seed algorithm", (m) => { m.seed_algorithm = "other/1"; }],
  ["resolution not an integer", (m) => { m.resolution = "64"; }],
  ["truncation.mean too short", (m) => { m.truncation.mean = m.truncation.mean.slice(1); }],
  ["default_psi not a number", (m) => { m.truncation.default_psi = "0.7"; }],
  ["no networks", (m) => { delete m.networks; }],
  ["no mapping network", (m) => { delete m.networks.mapping; }],
  ["mapping without inputs", (m) => { m.networks.mapping.inputs = []; }],
  ["student output without a shape", (m) => { delete m.networks.student.outputs[0].shape; }],
  ["student without an fp32 file", (m) => { delete m.networks.student.files.fp32; }],
];

describe("manifest.schema.json and the TypeScript validator agree", () => {
  it("the schema is the one the Python tools load", () => {
    expect(SCHEMA.properties.format.const).toBe("seedface-model/1");
    expect(committed.length).toBeGreaterThan(0);
  });

  it("both accept every committed manifest", () => {
    const py = pythonVerdicts(committed.map((c) => c.manifest));
    committed.forEach((c, i) => {
      expect(tsVerdict(c.manifest), c.id).toBeNull();
      expect(py[i], c.id).toBeNull();
    });
  });

  it("both reject the same broken variants", () => {
    const cases = committed.flatMap((c) => breakages.map(([what, f]) => {
      const m = clone(c.manifest);
      f(m);
      return { what: `${c.id}: ${what}`, m };
    }));
    const py = pythonVerdicts(cases.map((c) => c.m));
    cases.forEach((c, i) => {
      expect(tsVerdict(c.m), c.what).not.toBeNull();
      expect(py[i], c.what).not.toBeNull();
    });
  });
});
