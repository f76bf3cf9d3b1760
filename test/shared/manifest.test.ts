import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { levelForSize, ManifestError, noiseInputs, parseAnyManifest, parseManifest, sessionExtra, studentLevels, wInput } from "../../src/shared/manifest.js";

const repo = resolve(import.meta.dirname, "../..");
const id = JSON.parse(readFileSync(resolve(repo, "models/default.json"), "utf8")).default;
const raw = JSON.parse(readFileSync(resolve(repo, `models/${id}/manifest.json`), "utf8"));

describe("manifest", () => {
  it("parses the default model and answers the runtime's questions from it", () => {
    const m = parseManifest(raw);
    const levels = studentLevels(m);
    expect(levels.map((l) => l.size)).toEqual([...levels.map((l) => l.size)].sort((a, b) => a - b));
    const top = levels[levels.length - 1]!;
    expect(top.size).toBe(m.resolution);
    expect(levelForSize(m, 1).size).toBe(levels[0]!.size);
    expect(levelForSize(m, top.size + 1).size).toBe(top.size);
    for (const l of levels) expect(levelForSize(m, l.size).size).toBe(l.size);
    const noise = noiseInputs(m.networks.student);
    expect(noise.map((n) => n.index)).toEqual(noise.map((_, i) => i));
    expect(wInput(m.networks.student).nW).toBeGreaterThan(0);
  });

  it("rejects broken manifests with a clear message", () => {
    expect(() => parseManifest({ ...raw, format: "other" })).toThrow(/format/);
    expect(() => parseManifest({ ...raw, truncation: { mean: [1], default_psi: 0.7 } })).toThrow(/truncation.mean/);
    expect(() => parseManifest({ ...raw, seed_algorithm: "seedface-seed/2" })).toThrow(ManifestError);
  });

  it("teacher-only models parse for the origin but are refused where a student is needed", () => {
    const teacherOnly = { ...raw, networks: { ...raw.networks, student: null, teacher: raw.networks.teacher ?? raw.networks.student } };
    expect(parseAnyManifest(teacherOnly).networks.student).toBeNull();
    expect(() => parseManifest(teacherOnly)).toThrow(/teacher-only/);
  });

  it("a single-style-vector graph (imported release) is fed [B, style_dim]", () => {
    const net = { ...raw.networks.student, inputs: [{ name: "style", shape: [1, raw.style_dim], dtype: "float32" }] };
    expect(wInput(net)).toEqual({ name: "style", nW: 1, rank: 2 });
  });
});

describe("sessionExtra", () => {
  it("turns the quantizer's session_config into onnxruntime-web extra options, for quantized precisions only", () => {
    const m = parseManifest({ ...raw, quantization: { session_config: { "session.disable_quant_qdq": "1", bad: "x" } } });
    expect(sessionExtra(m, "int8")).toEqual({ session: { disable_quant_qdq: "1" } });
    expect(sessionExtra(m, "fp32")).toEqual({});
    expect(sessionExtra(parseManifest({ ...raw, quantization: undefined }), "int8")).toEqual({});
  });
});
