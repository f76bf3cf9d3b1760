import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  edgeLevels, edgeMaxSize, edgeNetworkFile, FOLD_INT8_MAX_BYTES, foldsInt8Weights, levelForSize, ManifestError, noiseInputs, parseAnyManifest, parseManifest,
  sessionExtra, studentLevels, wInput,
} from "../../src/shared/manifest.js";

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
    // The plain rule (the model's own serving table, if it has one, is tested below): the smallest level >= size.
    const { serving: _serving, ...student } = raw.networks.student;
    const p = parseManifest({ ...raw, networks: { ...raw.networks, student } });
    expect(levelForSize(p, 1).size).toBe(levels[0]!.size);
    expect(levelForSize(p, top.size + 1).size).toBe(top.size);
    for (const l of levels) expect(levelForSize(p, l.size).size).toBe(l.size);
    // Whatever the table says, every size renders from some level, and from the native one above the model.
    for (const s of [1, 16, 100, top.size]) expect(levels).toContain(levelForSize(m, s));
    expect(levelForSize(m, top.size + 1).size).toBe(top.size);
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
    // Edge files small enough for folding (FOLD_INT8_MAX_BYTES; large models drop disable_quant_qdq, tested below).
    const files = raw.files.map((f: object) => ({ ...f, bytes: 1000 }));
    const m = parseManifest({ ...raw, files, quantization: { session_config: { "session.disable_quant_qdq": "1", bad: "x" } } });
    expect(sessionExtra(m, "int8")).toEqual({ session: { disable_quant_qdq: "1" } });
    expect(sessionExtra(m, "fp32")).toEqual({});
    expect(sessionExtra(parseManifest({ ...raw, quantization: undefined }), "int8")).toEqual({});
  });
});

describe("networks.student.serving", () => {
  const withServing = (serving: unknown) => ({ ...raw, networks: { ...raw.networks, student: { ...raw.networks.student, serving } } });
  const outs = studentLevels(parseManifest(raw)).map((l) => l.output);
  /** The model without a serving table (the default model may have its own). */
  const { serving: _own, ...bareStudent } = raw.networks.student;
  const bare = { ...raw, networks: { ...raw.networks, student: bareStudent } };
  const [o0, o1] = [outs[outs.length - 2]!, outs[outs.length - 1]!];

  it("a size renders from the first row with up_to >= size; beyond the table the plain rule holds", () => {
    const m = parseManifest(withServing({ edge_max_size: 24, sizes: [{ up_to: 16, output: o0 }, { up_to: 24, output: o1 }], measured: { any: "figures" } }));
    expect(levelForSize(m, 16).output).toBe(o0);
    expect(levelForSize(m, 10).output).toBe(o0);
    expect(levelForSize(m, 17).output).toBe(o1);
    expect(levelForSize(m, 24).output).toBe(o1);
    const plain = parseManifest(bare);
    for (const s of [25, 40, 1000]) expect(levelForSize(m, s).output).toBe(levelForSize(plain, s).output);
    expect(edgeMaxSize(m)).toBe(24);
    // The edge draws levels up to the one serving edge_max_size.
    expect(edgeLevels(m).map((l) => l.output)).toEqual(outs);
    expect(edgeMaxSize(plain)).toBeNull();
    expect(edgeLevels(plain).map((l) => l.output)).toEqual(outs);
    const small = parseManifest(withServing({ edge_max_size: 16, sizes: [{ up_to: 16, output: o0 }] }));
    expect(edgeLevels(small).map((l) => l.output)).toEqual(outs.slice(0, -1));
  });

  it("is validated: sorted rows, known outputs, positive integers", () => {
    expect(() => parseManifest(withServing({ sizes: [{ up_to: 32, output: o0 }, { up_to: 16, output: o1 }] }))).toThrow(/increasing/);
    expect(() => parseManifest(withServing({ sizes: [{ up_to: 16, output: "img_3" }] }))).toThrow(/not a student output/);
    expect(() => parseManifest(withServing({ sizes: [{ up_to: 0, output: o0 }] }))).toThrow(/up_to/);
    expect(() => parseManifest(withServing({ edge_max_size: "256" }))).toThrow(/edge_max_size/);
    expect(() => parseManifest(withServing([1]))).toThrow(/serving/);
    expect(() => parseManifest(withServing({ sizes: {} }))).toThrow(ManifestError);
    expect(parseManifest(withServing({ edge_max_size: 64 })).networks.student.serving?.edge_max_size).toBe(64);
  });
});

describe("folding int8 weights", () => {
  it("is on for small models and off once the int8 edge files exceed FOLD_INT8_MAX_BYTES", () => {
    const q = { session_config: { "session.disable_quant_qdq": "1", "session.other": "x" } };
    const st = raw.networks.student;
    expect(st.files.int8).toBeTruthy();
    // The student at int8 at the edge and the mapping at fp32, whatever the model itself chose (edge_precision), with
    // the student's int8 file at the limit and one byte over it.
    const sized = (bytes: number) => parseManifest({
      ...raw,
      quantization: q,
      networks: { ...raw.networks, mapping: { ...raw.networks.mapping, edge_precision: "fp32" }, student: { ...st, edge_precision: "int8" } },
      files: raw.files.map((f: { path: string }) => (f.path === st.files.int8 ? { ...f, bytes } : f)),
    });
    const small = sized(FOLD_INT8_MAX_BYTES);
    expect(foldsInt8Weights(small)).toBe(true);
    const big = sized(FOLD_INT8_MAX_BYTES + 1);
    // The model as it is: folded exactly when the files it loads at a quantized precision are small enough.
    const m0 = parseManifest({ ...raw, quantization: q });
    const quantized = (["mapping", "student"] as const).map((n) => edgeNetworkFile(m0, n)).filter((f) => f.precision !== "fp32");
    const own = quantized.reduce((n, f) => n + (m0.files.find((e) => e.path === f.file)?.bytes ?? 0), 0);
    expect(foldsInt8Weights(m0)).toBe(own <= FOLD_INT8_MAX_BYTES);
    expect(foldsInt8Weights(big)).toBe(false);
    expect(sessionExtra(big, "int8")).toEqual({ session: { other: "x" } });
    expect(sessionExtra(small, "int8")).toEqual({ session: { disable_quant_qdq: "1", other: "x" } });
  });
});
