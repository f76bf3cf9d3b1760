import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HttpError } from "../../src/shared/errors.js";
import { canonicalKey, canonicalPath, encodeSeed, parseAvatarRequest, parseFacePath, parseFaceRequest, parseMorphRequest, parseSeedPath } from "../../src/shared/params.js";

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
    expect(r).toEqual({ kind: "face", seed: "alice", size: 128, psi: 0.6, model: "student", format: "png", negotiated: false });
  });
  it("decodes the seed; %2F and unicode are part of it", () => {
    expect(parseSeedPath("a%2Fb.png")).toEqual({ seed: "a/b", format: "png" });
    expect(parseSeedPath("alice%40example.com.png")).toEqual({ seed: "alice@example.com", format: "png" });
    expect(parseSeedPath("%C3%A9t%C3%A9.webp")).toEqual({ seed: "été", format: "webp" });
    expect(parseSeedPath("x.png.png")).toEqual({ seed: "x.png", format: "png" });
    expect(parseSeedPath("x.JPEG")).toEqual({ seed: "x", format: "jpeg" });
    // No known extension: the whole segment is the seed, the format is negotiated.
    expect(parseSeedPath("alice@example.com")).toEqual({ seed: "alice@example.com", format: null });
  });
  it("~ is an ordinary seed character; morphs have their own route", () => {
    expect(parseFaceRequest("a~b%7Ec.png", q("t=0.25"))).toMatchObject({ kind: "face", seed: "a~b~c" });
    const r = parseMorphRequest("a/b%2Fc.webp", q("t=0.25"));
    expect(r).toMatchObject({ kind: "morph", seedA: "a", seedB: "b/c", t: 0.25, format: "webp" });
    const d = parseMorphRequest("a/b.png", q(""));
    expect(d.t).toBe(0.5);
  });
  it("formats: extension wins over Accept; no extension negotiates", () => {
    expect(parseFaceRequest("a.png", q(""), { accept: "image/webp" })).toMatchObject({ format: "png", negotiated: false });
    expect(parseFaceRequest("a", q(""), { accept: "image/webp,*/*" })).toMatchObject({ format: "webp", negotiated: true });
    expect(parseFaceRequest("a", q(""), { accept: "*/*" })).toMatchObject({ format: "png", negotiated: true });
    expect(parseFacePath("/avatar/" + "A".repeat(32), q(""))).toMatchObject({ kind: "face", seed: "a".repeat(32), size: 80 });
    expect(parseFacePath("/elsewhere/a.png", q(""))).toBeNull();
  });
  it("Gravatar parameters: s clamps, size wins over s, d is anything, r and f are validated", () => {
    expect(parseFaceRequest("a.png", q("s=1")).size).toBe(16);
    expect(parseFaceRequest("a.png", q("s=2048")).size).toBe(1024);
    expect(parseFaceRequest("a.png", q("s=40&size=64")).size).toBe(64);
    expect(parseAvatarRequest("f".repeat(64), q("size=9999")).size).toBe(1024);
    expect(parseAvatarRequest("f".repeat(64), q("d=https%3A%2F%2Fx.example%2Fa.png&r=PG&f=Y")).size).toBe(80);
  });
  it("rounds psi and t to 2 decimals", () => {
    expect(parseFaceRequest("a.png", q("psi=0.666")).psi).toBe(0.67);
    const m = parseMorphRequest("a/b.png", q("t=0.333"));
    expect(m.t).toBe(0.33);
  });
  it.each([
    ["a.gif", "", "400:bad_extension"],
    ["a.SVG", "", "400:bad_extension"],
    [".png", "", "400:bad_seed"],
    ["%E0%A4%A.png", "", "400:bad_seed"],
    [`${"x".repeat(257)}.png`, "", "400:bad_seed"],
    [`${"%C3%A9".repeat(129)}.png`, "", "400:bad_seed"],
    ["a.png", "s=abc", "400:bad_size"],
    ["a.png", "r=nc17", "400:bad_rating"],
    ["a.png", "rating=", "400:bad_rating"],
    ["a.png", "f=1", "400:bad_forcedefault"],
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
  ])("rejects %s?%s with %s", (tail, query, want) => {
    expect(code(() => parseFaceRequest(tail, q(query)))).toBe(want);
  });
  it.each([
    ["/morph/a/b.png", "t=2", "400:bad_t"],
    ["/morph/a.png", "", "400:bad_seed"],
    ["/morph/a/b/c.png", "", "400:bad_seed"],
    ["/morph//b.png", "", "400:bad_seed"],
    ["/morph/a/.png", "", "400:bad_seed"],
    ["/avatar/abc.png", "", "400:bad_hash"],
    [`/avatar/${"a".repeat(40)}`, "", "400:bad_hash"],
    [`/avatar/${"a".repeat(32)}.gif`, "", "400:bad_extension"],
  ])("rejects %s?%s with %s", (path, query, want) => {
    expect(code(() => parseFacePath(path, q(query)))).toBe(want);
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
    expect(canonicalPath(parseFaceRequest("a~b.jpeg", q("")))).toBe("/face/a%7Eb.jpg?size=128&psi=0.70&model=student");
    expect(canonicalPath(parseMorphRequest("a/b.png", q("t=0.5")))).toBe("/morph/a/b.png?size=128&psi=0.70&model=student&t=0.50");
    // The format is part of the key; Gravatar's d/r/f are not (they do not change the face).
    expect(k("alice.png", "size=64")).not.toBe(k("alice.webp", "size=64"));
    expect(k("alice.png", "s=64&d=mp&r=g&f=y")).toBe(k("alice.png", "size=64"));
  });
  it("round-trips any seed through its canonical path", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 60, unit: "grapheme" }), (seed) => {
        const r = parseFaceRequest(`${encodeSeed(seed)}.png`, q(""));
        expect(r.seed).toBe(seed);
        // Seeds as encodeURIComponent leaves them ("~" unencoded) are the same seed.
        expect(parseFaceRequest(`${encodeURIComponent(seed)}.png`, q("")).seed).toBe(seed);
        const again = parseFaceRequest(canonicalPath(r).slice("/face/".length).split("?")[0]!, q(""));
        expect(again).toEqual(r);
      }),
      { numRuns: 200 },
    );
  });
});
