import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HttpError } from "../../src/shared/errors.js";
import { canonicalKey, canonicalPath, encodeSeed, parseFaceRequest, parseSeedPath } from "../../src/shared/params.js";

const q = (s: string) => new URLSearchParams(s);
function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return `${e.status}:${e.code}`;
    throw e;
  }
  return "ok";
}

describe("parseFaceRequest", () => {
  it("applies defaults and ignores unknown params", () => {
    const r = parseFaceRequest("alice.png", q("utm=1&foo=bar"), { psi: 0.6 });
    expect(r).toEqual({ kind: "face", seed: "alice", size: 128, psi: 0.6, model: "student" });
  });
  it("decodes the seed; %2F and unicode are part of it", () => {
    expect(parseSeedPath("a%2Fb.png")).toEqual(["a/b"]);
    expect(parseSeedPath("alice%40example.com.png")).toEqual(["alice@example.com"]);
    expect(parseSeedPath("%C3%A9t%C3%A9.png")).toEqual(["été"]);
    expect(parseSeedPath("x.png.png")).toEqual(["x.png"]);
  });
  it("splits morphs on the unencoded ~ only", () => {
    const r = parseFaceRequest("a~b%7Ec.png", q("t=0.25"));
    expect(r).toMatchObject({ kind: "morph", seedA: "a", seedB: "b~c", t: 0.25 });
    const d = parseFaceRequest("a~b.png", q(""));
    expect(d.kind === "morph" && d.t).toBe(0.5);
  });
  it("rounds psi and t to 2 decimals", () => {
    expect(parseFaceRequest("a.png", q("psi=0.666")).psi).toBe(0.67);
    const m = parseFaceRequest("a~b.png", q("t=0.333"));
    expect(m.kind === "morph" && m.t).toBe(0.33);
  });
  it.each([
    ["a.jpg", "", "400:bad_extension"],
    ["a", "", "400:bad_extension"],
    [".png", "", "400:bad_seed"],
    ["%E0%A4%A.png", "", "400:bad_seed"],
    [`${"x".repeat(257)}.png`, "", "400:bad_seed"],
    [`${"%C3%A9".repeat(129)}.png`, "", "400:bad_seed"],
    ["a~b~c.png", "", "400:bad_seed"],
    ["~b.png", "", "400:bad_seed"],
    ["a.png", "size=15", "400:bad_size"],
    ["a.png", "size=1025", "400:bad_size"],
    ["a.png", "size=12.5", "400:bad_size"],
    ["a.png", "size=abc", "400:bad_size"],
    ["a.png", "size=", "400:bad_size"],
    ["a.png", "psi=1.01", "400:bad_psi"],
    ["a.png", "psi=-0.1", "400:bad_psi"],
    ["a.png", "psi=NaN", "400:bad_psi"],
    ["a.png", "psi=1e-1", "400:bad_psi"],
    ["a.png", "model=big", "400:bad_model"],
    ["a~b.png", "t=2", "400:bad_t"],
  ])("rejects %s?%s with %s", (tail, query, want) => {
    expect(code(() => parseFaceRequest(tail, q(query)))).toBe(want);
  });
  it("accepts the boundaries", () => {
    expect(code(() => parseFaceRequest(`${"x".repeat(256)}.png`, q("size=16&psi=0")))).toBe("ok");
    expect(code(() => parseFaceRequest("a.png", q("size=1024&psi=1&model=teacher")))).toBe("ok");
  });
});

describe("canonical form", () => {
  it("equivalent URLs share one key; different params do not", () => {
    const k = (tail: string, query: string) => canonicalKey(parseFaceRequest(tail, q(query)), "m", "1");
    expect(k("alice.png", "size=64&psi=0.7")).toBe(k("alice.png", "psi=0.70&size=064&x=1"));
    expect(k("al%69ce.png", "size=64")).toBe(k("alice.png", "size=64"));
    expect(k("alice.png", "size=64")).not.toBe(k("alice.png", "size=65"));
    expect(k("alice.png", "")).not.toBe(canonicalKey(parseFaceRequest("alice.png", q("")), "m", "2"));
    expect(canonicalPath(parseFaceRequest("a%2Fb.png", q("")))).toBe("/face/a%2Fb.png?size=128&psi=0.70&model=student");
    expect(canonicalPath(parseFaceRequest("a~b.png", q("t=0.5")))).toBe("/face/a~b.png?size=128&psi=0.70&model=student&t=0.50");
  });
  it("round-trips any seed through its canonical path", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60, unit: "grapheme" }), (seed) => {
        const r = parseFaceRequest(`${encodeSeed(seed)}.png`, q(""));
        expect(r.kind === "face" && r.seed).toBe(seed);
        const again = parseFaceRequest(canonicalPath(r).slice("/face/".length).split("?")[0]!, q(""));
        expect(again).toEqual(r);
      }),
      { numRuns: 200 },
    );
  });
});
