// One JSON Schema for manifest.json (src/shared/manifest.schema.json), used by both validators: the Python tools
// (training/seedface/release/manifest.py) and the TypeScript loader, which runs the schema compiled ahead of time
// (src/shared/manifest-validate.generated.ts, by scripts/gen-manifest-validator.ts with Ajv's standalone code) and
// then the same cross-field rules. Checked here: the generated module is current, and on every committed manifest and
// on broken variants of them parseAnyManifest and Python give the same verdict, the TypeScript message naming the field.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAnyManifest } from "../../src/shared/manifest.js";
import { generateManifestValidator, OUT_FILE } from "../../scripts/gen-manifest-validator.js";

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
/** Broken variants, each with the field its message must name. */
const breakages: [string, (m: any) => void, string][] = [
  ["wrong format", (m) => { m.format = "seedface-model/0"; }, "format"],
  ["unknown seed algorithm", (m) => { m.seed_algorithm = "other/1"; }, "seed_algorithm"],
  ["resolution not an integer", (m) => { m.resolution = "64"; }, "resolution"],
  ["empty id", (m) => { m.id = ""; }, "id"],
  ["truncation.mean too short", (m) => { m.truncation.mean = m.truncation.mean.slice(1); }, "truncation.mean"],
  ["default_psi not a number", (m) => { m.truncation.default_psi = "0.7"; }, "truncation.default_psi"],
  ["no networks", (m) => { delete m.networks; }, "networks"],
  ["no mapping network", (m) => { delete m.networks.mapping; }, "networks.mapping"],
  ["mapping without inputs", (m) => { m.networks.mapping.inputs = []; }, "networks.mapping.inputs"],
  ["student output without a shape", (m) => { delete m.networks.student.outputs[0].shape; }, "networks.student.outputs[0].shape"],
  ["a shape dimension neither integer nor B", (m) => { m.networks.student.outputs[0].shape[0] = "N"; }, "networks.student.outputs[0].shape[0]"],
  ["student without an fp32 file", (m) => { delete m.networks.student.files.fp32; }, "networks.student.files.fp32"],
  ["student not an object", (m) => { m.networks.student = "student"; }, "networks.student"],
  ["student without levels", (m) => { delete m.networks.student.levels; }, "networks.student.levels"],
  ["a file without a valid sha256", (m) => { m.files[0].sha256 = "abc"; }, "files[0].sha256"],
  ["a file path with a directory", (m) => { m.files[0].path = `../${m.files[0].path}`; }, "files[0].path"],
  ["unknown provenance", (m) => { m.provenance.source = "found"; }, "provenance.source"],
  ["an earlier version without what changed", (m) => { m.earlier_versions = [{ version: "0.9.0" }]; }, "earlier_versions[0].changed"],
  ["serving edge_max_size not an integer", (m) => { m.networks.student.serving = { edge_max_size: "256" }; }, "networks.student.serving.edge_max_size"],
  // The cross-field rules (no schema can state them):
  ["a duplicate output", (m) => { m.networks.student.outputs.push(m.networks.student.outputs[0]); }, "networks.student.outputs"],
  ["a network file not in files[]", (m) => { m.networks.student.files.fp32 = "elsewhere.onnx"; }, "networks.student.files.fp32"],
  ["edge_precision without a file", (m) => { m.networks.student.edge_precision = "int4"; }, "networks.student.edge_precision"],
  ["a level naming no output", (m) => { m.networks.student.levels[0].output = "img_3"; }, "networks.student.levels[0].output"],
  ["levels not ending at the resolution", (m) => { m.networks.student.levels.pop(); }, "networks.student.levels"],
  ["serving rows out of order", (m) => {
    const lv = m.networks.student.levels;
    m.networks.student.serving = { sizes: [{ up_to: 64, output: lv[1].output }, { up_to: 32, output: lv[0].output }] };
  }, "networks.student.serving.sizes"],
  ["an earlier version that is this version", (m) => { m.earlier_versions = [{ version: m.version, changed: "x" }]; }, "earlier_versions[0].version"],
  ["teacher-only without a teacher", (m) => { m.networks.student = null; delete m.networks.teacher; }, "networks.teacher"],
];

describe("manifest.schema.json: one schema, the TypeScript and the Python validators agree", () => {
  it("the schema is the one the Python tools load", () => {
    expect(SCHEMA.properties.format.const).toBe("seedface-model/1");
    expect(committed.length).toBeGreaterThan(0);
  });

  it("the committed validator module is what scripts/gen-manifest-validator.ts makes from the schema now", () => {
    expect(readFileSync(OUT_FILE, "utf8") === generateManifestValidator(), "stale: run `npm run gen:manifest-validator`").toBe(true);
  });

  it("both accept every committed manifest", () => {
    const py = pythonVerdicts(committed.map((c) => c.manifest));
    committed.forEach((c, i) => {
      expect(tsVerdict(c.manifest), c.id).toBeNull();
      expect(py[i], c.id).toBeNull();
    });
  });

  it("both reject the same broken variants", () => {
    const cases = committed.flatMap((c) => breakages.map(([what, f, field]) => {
      const m = clone(c.manifest);
      f(m);
      return { what: `${c.id}: ${what}`, m, field };
    }));
    const py = pythonVerdicts(cases.map((c) => c.m));
    cases.forEach((c, i) => {
      const ts = tsVerdict(c.m);
      expect(ts, c.what).not.toBeNull();
      expect(ts, c.what).toContain(`manifest.json: `);
      expect(ts, c.what).toContain(c.field);
      expect(py[i], c.what).not.toBeNull();
    });
  });
});
