import { describe, expect, it } from "vitest";
import { bearer, parseBearer, tokensEqual } from "../../src/shared/bearer.js";
import { originPath, originUrl } from "../../src/shared/contract.js";
import { morphInputs } from "../../src/shared/face.js";
import { etagMatches, faceEtag, imageHeaders, serverTiming } from "../../src/shared/http.js";
import { parseFacePath, parseFaceRequest, parseMorphRequest } from "../../src/shared/params.js";

const q = (s: string) => new URLSearchParams(s);

describe("edge <-> origin contract", () => {
  it("builds the canonical origin path; the origin parses it back to the same request", () => {
    const req = parseMorphRequest("alice%2Fx/b~c.png", q("size=64&psi=0.5&t=0.25&model=teacher&junk=1"));
    const path = originPath(req);
    expect(path).toBe("/v1/morph/alice%2Fx/b%7Ec.png?size=64&psi=0.50&model=teacher&t=0.25");
    const u = new URL(path, "http://origin");
    expect(parseFacePath(u.pathname.slice("/v1".length), u.searchParams)).toEqual(req);
    expect(originUrl("https://o.example/base/", req)).toBe(`https://o.example/base${path}`);
    // The edge always asks the origin for PNG, whatever format its client wants.
    const webp = parseFaceRequest("bob", q("size=32"), { accept: "image/webp" });
    expect(originPath(webp)).toBe("/v1/face/bob.png?size=32&psi=0.70&model=student");
  });
  it("bearer tokens round-trip and compare in constant time", () => {
    expect(parseBearer(bearer("abc.DEF-1"))).toBe("abc.DEF-1");
    expect(parseBearer("Basic xyz")).toBeNull();
    expect(parseBearer(undefined)).toBeNull();
    expect(tokensEqual("secret", "secret")).toBe(true);
    expect(tokensEqual("secret", "secreT")).toBe(false);
    expect(tokensEqual("secret", "secret2")).toBe(false);
  });
});

describe("http helpers", () => {
  it("ETags are strong, stable, and differ by key and renderer", async () => {
    const a = await faceEtag("/face/a.png?size=64", "edge-int8");
    expect(a).toMatch(/^"[0-9a-f]{32}"$/);
    expect(await faceEtag("/face/a.png?size=64", "edge-int8")).toBe(a);
    expect(await faceEtag("/face/a.png?size=65", "edge-int8")).not.toBe(a);
    expect(await faceEtag("/face/a.png?size=64", "origin-student")).not.toBe(a);
  });
  it("If-None-Match uses weak comparison over a list, and *", () => {
    expect(etagMatches('"x", W/"abc"', '"abc"')).toBe(true);
    expect(etagMatches("*", '"abc"')).toBe(true);
    expect(etagMatches('"abd"', '"abc"')).toBe(false);
    expect(etagMatches(null, '"abc"')).toBe(false);
  });
  it("faces carry CORP and Timing-Allow-Origin; Vary and Link only when asked", () => {
    const h = imageHeaders({ etag: '"e"', model: "m", source: "edge", format: "webp", negotiated: true, canonical: "https://x/v/m@1/face/a.webp" });
    expect(h.get("content-type")).toBe("image/webp");
    expect(h.get("cross-origin-resource-policy")).toBe("cross-origin");
    expect(h.get("timing-allow-origin")).toBe("*");
    expect(h.get("vary")).toBe("Accept");
    expect(h.get("link")).toBe('<https://x/v/m@1/face/a.webp>; rel="canonical"');
    expect(imageHeaders({ etag: '"e"', model: "m", source: "edge" }).get("vary")).toBeNull();
  });
  it("degraded images are cached briefly, others forever", () => {
    const ok = imageHeaders({ etag: '"e"', model: "m", source: "edge", timing: [{ name: "infer", dur: 1.234 }] });
    expect(ok.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(ok.get("server-timing")).toBe("infer;dur=1.2");
    const d = imageHeaders({ etag: '"e"', model: "m", source: "edge", degraded: "why" });
    expect(d.get("cache-control")).toBe("public, max-age=60");
    expect(d.get("x-face-degraded")).toBe("why");
    expect(serverTiming([{ name: "a", dur: 1, desc: 'x"y' }])).toBe('a;dur=1.0;desc="xy"');
  });
});

describe("morph inputs", () => {
  const a = { w: new Float32Array([1, 2, 3]), noise: [new Float32Array([1, -1, 0.5])] };
  const b = { w: new Float32Array([3, 2, 1]), noise: [new Float32Array([0.2, 0.4, -2])] };
  it("t = 0 and t = 1 are exactly A and B", () => {
    expect(morphInputs(a, b, 0)).toBe(a);
    expect(morphInputs(a, b, 1)).toBe(b);
  });
  it("w is linear, noise keeps unit variance (cos/sin weights)", () => {
    const m = morphInputs(a, b, 0.5);
    expect(Array.from(m.w)).toEqual([2, 2, 2]);
    const c = Math.SQRT1_2;
    expect(m.noise[0]![0]).toBeCloseTo(c * 1 + c * 0.2, 6);
    const t = 0.3, ca = Math.cos((t * Math.PI) / 2), sb = Math.sin((t * Math.PI) / 2);
    expect(ca * ca + sb * sb).toBeCloseTo(1, 12);
  });
});
