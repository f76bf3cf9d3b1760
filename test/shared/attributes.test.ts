// Attribute options (issue 16): parsing and canonical form, the closed-form edit, and bit-exact agreement with the
// Python twin (vectors/attributes.json, written by `python -m seedface.attributes_vectors --write-vectors`).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AttributeData } from "../../src/shared/attributes.js";
import {
  ADULT_PRESET, AttributeHttpError, allowedOptions, applyAttributes, applyModelAttributes, attributeProjections,
  attributeQuery, attributesEntry, checkAttributes, parseAttributeOptions, parseAttributes, setModelAttributes, solveSmall,
} from "../../src/shared/attributes.js";
import { parseManifest } from "../../src/shared/manifest.js";
import { canonicalKey, canonicalPath, parseFaceRequest, parseMorphRequest } from "../../src/shared/params.js";
import { originPath } from "../../src/shared/contract.js";

const REPO = join(import.meta.dirname, "../..");
const FFHQ = join(REPO, "models/ffhq");

/** A deterministic synthetic model: 3 correlated directions in 8-d. */
function synthetic(): AttributeData {
  const d = 8;
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const unit = (v: number[]) => {
    const n = Math.sqrt(v.reduce((s, a) => s + a * a, 0));
    return v.map((a) => a / n);
  };
  const n0 = unit(Array.from({ length: d }, rnd));
  const n1 = unit(n0.map((a) => a * 0.3 + rnd()));
  const n2 = unit(n0.map((a, i) => a * -0.2 + n1[i]! * 0.25 + rnd()));
  return {
    format: "seedface-attributes/1",
    style_dim: d,
    attributes: [
      { name: "gender", normal: n0, classes: { female: { lo: 0.5, hi: null }, male: { lo: null, hi: -0.5 } } },
      { name: "age", normal: n1, classes: { child: { lo: null, hi: -1, years: [null, 13] }, young: { lo: -0.5, hi: 0, years: [13, 30] }, adult: { lo: 0.2, hi: 0.6, years: [30, 60] }, senior: { lo: 1, hi: null, years: [60, null] } },
        age_min: { from: 13, lo: Array.from({ length: 58 }, (_, i) => -0.6 + i * 0.03) } },
      { name: "expression", normal: n2, classes: { smile: { lo: 0.4, hi: null }, neutral: { lo: null, hi: -0.4 } } },
    ],
    unavailable: { glasses: "no glasses judge" },
  };
}

const q = (s: string) => new URLSearchParams(s);

describe("attribute options", () => {
  it("parse into canonical order; absent and empty values are not asked", () => {
    expect(parseAttributeOptions(q(""))).toEqual({});
    expect(parseAttributeOptions(q("gender="))).toEqual({});
    const o = parseAttributeOptions(q("expression=smile&age_min=18&gender=female"));
    expect(o).toEqual({ gender: "female", age_min: 18, expression: "smile" });
    expect(attributeQuery(o)).toBe("gender=female&age_min=18&expression=smile");
    expect(attributeQuery(ADULT_PRESET)).toBe("age_min=18");
  });

  it("unknown values are a 400 whose JSON lists what is allowed", () => {
    for (const bad of ["gender=other", "age=teen", "age_min=abc", "age_min=0", "age_min=18.5", "expression=angry", "glasses=maybe"]) {
      let err: unknown;
      try {
        parseAttributeOptions(q(bad));
      } catch (e) {
        err = e;
      }
      expect(err, bad).toBeInstanceOf(AttributeHttpError);
      const e = err as AttributeHttpError;
      expect(e.status).toBe(400);
      expect(e.code).toBe("bad_attribute");
      const body = e.body();
      expect(body.error.allowed.gender).toEqual(["female", "male"]);
      expect(body.error.allowed.age).toEqual(["child", "young", "adult", "senior"]);
      expect(body.error.message).toContain(bad.split("=")[0]!);
    }
  });

  it("enter the canonical path, the cache key and the origin path only when asked", () => {
    const plain = parseFaceRequest("a.png", q("size=64&psi=0.7"));
    expect(canonicalPath(plain)).toBe("/face/a.png?size=64&psi=0.70&model=student");
    const a = parseFaceRequest("a.png", q("size=64&psi=0.7&expression=smile&gender=female"));
    const b = parseFaceRequest("a.png", q("gender=female&expression=smile&psi=0.70&size=64"));
    expect(canonicalPath(a)).toBe("/face/a.png?size=64&psi=0.70&model=student&gender=female&expression=smile");
    expect(canonicalKey(a, "m", "1")).toBe(canonicalKey(b, "m", "1"));
    expect(canonicalKey(a, "m", "1")).not.toBe(canonicalKey(plain, "m", "1"));
    expect(originPath(a)).toBe("/v1/face/a.png?size=64&psi=0.70&model=student&gender=female&expression=smile");
    const m = parseMorphRequest("a/b.png", q("t=0.5&age_min=18"));
    expect(canonicalPath(m)).toMatch(/&t=0\.50&age_min=18$/);
    // The origin parses what the edge sends back into the same request.
    expect(parseFaceRequest("a.png", new URL(`http://x${originPath(a)}`).searchParams)).toEqual(a);
  });

  it("a model's data narrows them: glasses unavailable (with the reason), age_min range, conflicting age", () => {
    const d = synthetic();
    expect(allowedOptions(d)).toEqual({ gender: ["female", "male"], age: ["child", "young", "adult", "senior"], age_min: "13..70", expression: ["smile", "neutral"] });
    expect(() => checkAttributes({ glasses: "yes" }, d, "m@1")).toThrow(/glasses is not available for model m@1: no glasses judge/);
    expect(() => checkAttributes({ age_min: 5 }, d, "m@1")).toThrow(/age_min must be from 13 to 70/);
    expect(() => checkAttributes({ age: "child", age_min: 18 }, d, "m@1")).toThrow(/age=child \(under 13 years\) and age_min=18 exclude each other/);
    expect(() => checkAttributes({ age: "young", age_min: 30 }, d, "m@1")).toThrow(/exclude each other/);
    expect(() => checkAttributes({ age: "young", age_min: 29 }, d, "m@1")).not.toThrow();
    expect(() => checkAttributes({ gender: "male" }, null, "m@1")).toThrow(/has no attribute directions/);
    expect(() => checkAttributes({ gender: "male", age_min: 18, age: "adult" }, d, "m@1")).not.toThrow();
    expect(() => checkAttributes({}, null, "m@1")).not.toThrow();
  });
});

describe("the edit", () => {
  const d = synthetic();
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => { let s = 0; for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!; return s; };

  it("solveSmall solves a symmetric positive definite system", () => {
    const g = [[4, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 2]];
    const c = solveSmall(g, [1, 2, 3]);
    for (let i = 0; i < 3; i++) expect(dot(g[i]!, c)).toBeCloseTo([1, 2, 3][i]!, 12);
  });

  it("a seed already in the asked class is returned unchanged (the same array)", () => {
    const w = new Float32Array(d.attributes[0]!.normal.map((v) => v * 2)); // p_gender = 2 > 0.5
    expect(applyAttributes(d, w, { gender: "female" })).toBe(w);
    expect(applyAttributes(d, w, {})).toBe(w);
  });

  it("moves just onto the asked bound and holds the other attributes in place", () => {
    const w = new Float32Array(8).fill(0.1);
    const p0 = attributeProjections(d, w);
    for (const [o, k, target] of [[{ gender: "male" }, 0, -0.5], [{ age: "senior" }, 1, 1], [{ expression: "smile" }, 2, 0.4], [{ age_min: 40 }, 1, -0.6 + 27 * 0.03]] as const) {
      const e = applyAttributes(d, w, o);
      expect(e).not.toBe(w);
      const p = attributeProjections(d, e);
      expect(p[k]).toBeCloseTo(target, 5);
      for (let j = 0; j < 3; j++) if (j !== k) expect(p[j]).toBeCloseTo(p0[j]!, 5);
    }
  });

  it("age with age_min: a class that implies it is the class alone; otherwise the minimum age wins", () => {
    const w = new Float32Array(8).fill(0.1);
    const p = (o: Parameters<typeof applyAttributes>[2]) => attributeProjections(d, applyAttributes(d, w, o))[1]!;
    // adult (30-59) implies age_min=18, even though the table's 18 bound (-0.45) is below adult's lo anyway
    expect(Array.from(applyAttributes(d, w, { age: "adult", age_min: 18 }))).toEqual(Array.from(applyAttributes(d, w, { age: "adult" })));
    // senior implies 40: the table's 40 bound (0.21) does not matter
    expect(p({ age: "senior", age_min: 40 })).toBeCloseTo(1, 5);
    // adult and 45: the table's bound (-0.6 + 32 * 0.03 = 0.36) raises adult's lo (0.2), inside adult's top (0.6)
    const a45 = attributeProjections(d, w)[1]! < 0.36 ? 0.36 : attributeProjections(d, w)[1]!;
    expect(p({ age: "adult", age_min: 45 })).toBeCloseTo(a45, 5);
    // young (top 0) and 18 with a table deeper than young's top (18 -> 0.85): the face lands on the age_min bound
    const deep = structuredClone(d);
    deep.attributes[1]!.age_min!.lo = deep.attributes[1]!.age_min!.lo.map((x) => (x === null ? null : x + 1));
    expect(attributeProjections(deep, applyAttributes(deep, w, { age: "young", age_min: 18 }))[1]).toBeCloseTo(-0.6 + 5 * 0.03 + 1, 5);
  });

  it("the move is the smallest one meeting the constraints (orthogonal to every other direction's null space)", () => {
    const w = new Float32Array([0.3, -0.2, 0.1, 0.05, -0.4, 0.2, 0.0, 0.1]);
    const e = applyAttributes(d, w, { gender: "male", expression: "smile" });
    const delta = Array.from(e, (v, i) => v - w[i]!);
    // delta lies in the span of the normals: its residual after projecting onto that span is ~0.
    const N = d.attributes.map((a) => a.normal);
    const g = N.map((a) => N.map((b) => dot(a, b)));
    const c = solveSmall(g, N.map((n) => dot(n, delta)));
    const resid = delta.map((v, i) => v - c.reduce((s, ck, k) => s + ck * N[k]![i]!, 0));
    expect(Math.sqrt(dot(resid, resid))).toBeLessThan(1e-6);
    // adding any vector orthogonal to all normals only makes the move longer
    const p = attributeProjections(d, e);
    expect(p[0]).toBeCloseTo(-0.5, 5);
    expect(p[2]).toBeCloseTo(0.4, 5);
  });

  it("a second direction serving one option constrains only the values it has a class for", () => {
    const two = structuredClone(d);
    const extra = [0.2, -0.1, 0.4, 0.3, -0.5, 0.1, 0.6, -0.2];
    const nrm = Math.sqrt(extra.reduce((a, b) => a + b * b, 0));
    two.attributes.push({ name: "neutral_vs_other", option: "expression", normal: extra.map((v) => v / nrm),
      classes: { neutral: { lo: 0.3, hi: null }, calm: { lo: 0.9, hi: null } } });
    expect(allowedOptions(two).expression).toEqual(["smile", "neutral", "calm"]); // one option, the values of both
    expect(allowedOptions(two)).not.toHaveProperty("neutral_vs_other");
    const w = new Float32Array(8).fill(-0.1);
    const p0 = attributeProjections(two, w);
    expect(p0[2]).toBeGreaterThan(-0.4);
    expect(p0[3]).toBeLessThan(0.3);
    const neutral = attributeProjections(two, applyAttributes(two, w, { expression: "neutral" }));
    expect(neutral[2]).toBeCloseTo(-0.4, 5); // both directions of expression=neutral move onto their bounds
    expect(neutral[3]).toBeCloseTo(0.3, 5);
    expect(neutral[0]).toBeCloseTo(p0[0]!, 5);
    const smile = attributeProjections(two, applyAttributes(two, w, { expression: "smile" }));
    expect(smile[2]).toBeCloseTo(0.4, 5);
    expect(smile[3]).toBeCloseTo(p0[3]!, 5); // smile has no class there: held in place
    expect(() => checkAttributes({ expression: "calm" as "neutral" }, two, "m")).not.toThrow();
  });

  it("a class with a start weight lands a seed deeper the further it starts from the class", () => {
    const st = structuredClone(d);
    st.attributes[1]!.classes.senior!.start = { weight: 1.0, ref: 0.2 };
    const n = st.attributes[1]!.normal;
    const at = (p: number) => new Float32Array(n.map((v) => v * p)); // a seed whose age projection is p (others 0)
    const landing = (p: number) => attributeProjections(st, applyAttributes(st, at(p), { age: "senior" }))[1]!;
    // lo 1 applies to p + 1.0 * (p_seed - 0.2): a seed at 0.2 lands on 1, one at -0.3 on 1.5, one at 0.7 on 0.5
    expect(landing(0.2)).toBeCloseTo(1, 5);
    expect(landing(-0.3)).toBeCloseTo(1.5, 5);
    expect(landing(0.7)).toBeCloseTo(0.7, 5); // 0.7 + 0.5 >= 1: already in the class, not moved
    const w = at(0.7);
    expect(applyAttributes(st, w, { age: "senior" })).toBe(w);
    expect(landing(0.5)).toBeCloseTo(0.7, 5); // 0.5 + 0.3 < 1: lands where p + (0.5 - 0.2) = 1
    // the other classes and age_min alone have no start weight
    const plain = attributeProjections(d, applyAttributes(d, at(-0.3), { age: "senior" }))[1]!;
    expect(plain).toBeCloseTo(1, 5);
    const bad = structuredClone(st);
    (bad.attributes[1]!.classes.senior as Record<string, unknown>).start = { weight: "1" };
    expect(() => parseAttributes(bad, 8)).toThrow(/senior\.start must be \{weight, ref\}/);
  });

  it("a start vector measures the seed's start along its own normal (a per-seed depth)", () => {
    const st = structuredClone(d);
    const m = [0, 0, 0, 0, 0, 0, 0, 1]; // the start is read from w[7] alone
    st.attributes[1]!.classes.senior!.start = { weight: 2.0, ref: 0.1, normal: m };
    const n = st.attributes[1]!.normal;
    const seed = (p: number, s7: number) => {
      // projection p on the age normal, then w[7] set to s7 (the other projections are not needed here)
      const w = n.map((v) => v * p);
      w[7] = s7;
      return new Float32Array(w);
    };
    const landing = (w: Float32Array) => attributeProjections(st, applyAttributes(st, w, { age: "senior" }))[1]!;
    // lo 1 applies to p + 2.0 * (w[7] - 0.1): w[7] = 0.1 lands on 1, w[7] = -0.15 lands 0.5 deeper
    const w0 = seed(0, 0.1);
    const w1 = seed(0, -0.15);
    expect(landing(w0)).toBeCloseTo(1, 5);
    expect(landing(w1)).toBeCloseTo(1.5, 5);
    const bad = structuredClone(st);
    bad.attributes[1]!.classes.senior!.start!.normal = [1, 2];
    expect(() => parseAttributes(bad, 8)).toThrow(/senior\.start\.normal must be 8 finite numbers/);
  });

  it("move vectors make the edit the smallest move in their metric (u_k = M^-1 n_k), still meeting every bound", () => {
    // M = I + A A^T (symmetric positive definite), u_k = M^-1 n_k
    const A = [[0.9, -0.3], [0.2, 0.5], [-0.4, 0.1], [0.7, 0.8], [0.1, -0.6], [-0.5, 0.2], [0.3, 0.3], [0.6, -0.1]];
    const M = A.map((ai, i) => A.map((aj, j) => (i === j ? 1 : 0) + ai[0]! * aj[0]! + ai[1]! * aj[1]!));
    const mv = structuredClone(d);
    for (const a of mv.attributes) a.move = solveSmall(M, a.normal);
    const w = new Float32Array([0.3, -0.2, 0.1, 0.05, -0.4, 0.2, 0.0, 0.1]);
    const p0 = attributeProjections(mv, w);
    const e = applyAttributes(mv, w, { gender: "male" });
    const p = attributeProjections(mv, e);
    expect(p[0]).toBeCloseTo(-0.5, 5); // onto the bound, the others held
    expect(p[1]).toBeCloseTo(p0[1]!, 5);
    expect(p[2]).toBeCloseTo(p0[2]!, 5);
    // optimality: M delta lies in the span of the normals (the Lagrange condition of min delta^T M delta)
    const delta = Array.from(e, (v, i) => v - w[i]!);
    const Md = M.map((row) => dot(row, delta));
    const N = mv.attributes.map((a) => a.normal);
    const c = solveSmall(N.map((a) => N.map((b) => dot(a, b))), N.map((n) => dot(n, Md)));
    const resid = Md.map((v, i) => v - c.reduce((s, ck, k) => s + ck * N[k]![i]!, 0));
    expect(Math.sqrt(dot(resid, resid))).toBeLessThan(1e-6);
    // and it is not the Euclidean move, which costs more in this metric
    const eu = Array.from(applyAttributes(d, w, { gender: "male" }), (v, i) => v - w[i]!);
    const cost = (x: number[]) => dot(x, M.map((row) => dot(row, x)));
    expect(cost(delta)).toBeLessThan(cost(eu) * 0.99);
    // a seed already in the class is still not moved
    const inside = new Float32Array(mv.attributes[0]!.normal.map((v) => v * -2));
    expect(applyAttributes(mv, inside, { gender: "male" })).toBe(inside);
    const bad = structuredClone(mv);
    bad.attributes[0]!.move = bad.attributes[0]!.move!.slice(1);
    expect(() => parseAttributes(bad, 8)).toThrow(/gender\.move must be 8 finite numbers/);
  });

  it("applyModelAttributes needs the model's data (400 without it)", () => {
    const m = parseManifest(JSON.parse(readFileSync(join(FFHQ, "manifest.json"), "utf8")));
    const w = new Float32Array(m.style_dim);
    expect(() => applyModelAttributes(m, w, { gender: "female" })).toThrow(/no attribute directions/);
    expect(applyModelAttributes(m, w, undefined)).toBe(w);
  });
});

const vectorsFile = join(REPO, "vectors/attributes.json");
describe("vectors/attributes.json (Python = TypeScript, bit for bit)", () => {
  const vec = existsSync(vectorsFile) ? JSON.parse(readFileSync(vectorsFile, "utf8")) : { model: "missing", cases: [] };
  const m = parseManifest(JSON.parse(readFileSync(join(FFHQ, "manifest.json"), "utf8")));

  it("pins the shipped attributes.json, listed in the manifest with its sha256", () => {
    const entry = attributesEntry(m)!;
    expect(entry.file).toBe("attributes.json");
    const bytes = readFileSync(join(FFHQ, entry.file));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(entry.sha256);
    expect(vec.attributes_sha256).toBe(entry.sha256);
    expect(m.files.find((f) => f.path === entry.file)?.sha256).toBe(entry.sha256);
    const data = parseAttributes(JSON.parse(bytes.toString("utf8")), m.style_dim);
    expect(allowedOptions(data).glasses).toBeUndefined();
    expect(data.unavailable?.glasses).toMatch(/glasses/);
  });

  it("every edit reproduces Python's float32 bits", () => {
    const data = parseAttributes(JSON.parse(readFileSync(join(FFHQ, "attributes.json"), "utf8")), m.style_dim);
    setModelAttributes(m, data);
    let moved = 0, n = 0;
    for (const c of vec.cases) {
      const w = new Float32Array(new Uint8Array(Buffer.from(c.w_b64, "base64")).buffer);
      expect(attributeProjections(data, w)).toEqual(c.projections);
      for (const e of c.edits) {
        const o = parseAttributeOptions(new URLSearchParams(e.query));
        expect(attributeQuery(o)).toBe(e.canonical);
        checkAttributes(o, data, "ffhq");
        const out = applyModelAttributes(m, w, o);
        expect(out !== w).toBe(e.moved);
        const sha = createHash("sha256").update(Buffer.from(out.buffer, out.byteOffset, out.byteLength)).digest("hex");
        expect(sha, `${c.seed} psi ${c.psi} ${e.query}`).toBe(e.sha256);
        moved += Number(e.moved);
        n++;
      }
    }
    expect(n).toBeGreaterThan(100);
    expect(moved).toBeGreaterThan(n / 4); // the vectors exercise real moves, not only no-ops
  });
});
