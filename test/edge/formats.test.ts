// Issue 13 in workerd (the built worker, harness/worker.ts): every format decoded by an independent decoder
// (sharp/libvips), Accept negotiation and Vary, versioned vs unversioned caching headers and 304s, the morph route,
// the Gravatar paths and parameters, favicon/robots, and the e-mail hashing helper of /embed.js.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashEmail, normalizeEmail } from "../../src/embed/hash.js";
import { negotiateFormat } from "../../src/shared/formats.js";
import { decodeAny, decodePng, psnr, rgbOf } from "../helpers/png.js";
import type { WorkerHandle } from "../../harness/worker.js";
import { fetchIdempotent, REPO, startWorker } from "../../harness/worker.js";

let w: WorkerHandle;
let id = "";
let version = "";
const UNVERSIONED = "public, max-age=300, stale-while-revalidate=3600";
const IMMUTABLE = "public, max-age=31536000, immutable";

async function get(path: string, init?: RequestInit) {
  const res = await fetchIdempotent(w.url + path, { redirect: "manual", ...init });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const errorCode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)).error.code as string;

beforeAll(async () => {
  w = await startWorker();
  const m = ((await (await fetch(`${w.url}/v1/models`)).json()) as { models: { id: string; version: string }[] }).models[0]!;
  ({ id, version } = m);
});
afterAll(async () => w?.dispose());

describe("formats by extension", () => {
  it("png, webp, jpg, jpeg and avif: the right type, size and face (decoded by sharp)", async () => {
    const png = await get("/face/format-me.png?size=64");
    expect(png.res.status).toBe(200);
    const ref = rgbOf(decodePng(png.bytes));
    for (const [ext, type, minDb] of [["webp", "image/webp", 30], ["jpg", "image/jpeg", 30], ["jpeg", "image/jpeg", 30], ["avif", "image/avif", 28], ["PNG", "image/png", 99]] as const) {
      const { res, bytes } = await get(`/face/format-me.${ext}?size=64`);
      expect(res.status, ext).toBe(200);
      expect(res.headers.get("content-type"), ext).toBe(type);
      expect(res.headers.get("vary"), ext).toBeNull();
      expect(Number(res.headers.get("content-length"))).toBe(bytes.length);
      const img = await decodeAny(bytes);
      expect(`image/${img.format}`, ext).toBe(type);
      expect([img.width, img.height]).toEqual([64, 64]);
      const db = psnr(rgbOf(img), ref);
      if (minDb === 99) expect(db).toBe(Infinity);
      else expect(db, `${ext}: ${db.toFixed(1)} dB vs the PNG`).toBeGreaterThanOrEqual(minDb);
      // Lossy files are far smaller than the PNG.
      if (type !== "image/png") expect(bytes.length, ext).toBeLessThan(png.bytes.length / 3);
    }
    // .jpg and .jpeg are one canonical URL: one cache entry, one ETag.
    const a = await get("/face/format-me.jpg?size=64");
    const b = await get("/face/format-me.jpeg?size=64");
    expect(a.res.headers.get("etag")).toBe(b.res.headers.get("etag"));
    expect(same(a.bytes, b.bytes)).toBe(true);
    expect(a.res.headers.get("link")).toMatch(/\/face\/format-me\.jpg\?size=64&/);
    // Formats never share a cache entry or an ETag.
    const etags = new Set<string | null>();
    for (const ext of ["png", "webp", "jpg", "avif"]) etags.add((await get(`/face/format-me.${ext}?size=64`)).res.headers.get("etag"));
    expect(etags.size).toBe(4);
  });

  it("a 128 px WebP is at most 4 KB", async () => {
    for (const seed of ["alice@example.com", "bob", "carol"]) {
      const { res, bytes } = await get(`/face/${encodeURIComponent(seed)}.webp?size=128`);
      expect(res.status).toBe(200);
      expect(bytes.length, seed).toBeLessThanOrEqual(4096);
    }
  });

  it("repeats are byte-identical (deterministic encoders), the second from the cache", async () => {
    for (const ext of ["webp", "jpg", "avif"]) {
      const first = await get(`/face/det.${ext}?size=40`);
      const again = await get(`/face/det.${ext}?size=40`);
      expect(again.res.headers.get("x-face-source"), ext).toBe("cache");
      expect(again.res.headers.get("content-type")).toBe(first.res.headers.get("content-type"));
      expect(same(first.bytes, again.bytes), ext).toBe(true);
    }
  });

  it("HEAD gives the headers without a body", async () => {
    const { res, bytes } = await get("/face/head-me.webp?size=32", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/webp");
    expect(Number(res.headers.get("content-length"))).toBeGreaterThan(0);
    expect(bytes.length).toBe(0);
  });

  it("an extension we do not serve is a 400, not a seed", async () => {
    for (const ext of ["gif", "svg", "bmp"]) {
      const { res, bytes } = await get(`/face/alice.${ext}`);
      expect(res.status).toBe(400);
      expect(errorCode(bytes)).toBe("bad_extension");
    }
  });
});

describe("negotiation (no extension)", () => {
  const cases: [string | null, string][] = [
    ["image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image/webp"], // Chrome
    ["image/webp,*/*", "image/webp"], // older Firefox
    ["image/avif,image/jxl", "image/avif"],
    ["image/png", "image/png"],
    ["image/jpeg", "image/jpeg"],
    ["image/webp;q=0,image/png", "image/png"],
    ["*/*", "image/png"], // curl, many e-mail clients
    ["image/*", "image/png"],
    [null, "image/png"],
  ];
  it.each(cases)("Accept %s -> %s, with Vary: Accept", async (accept, type) => {
    const headers: Record<string, string> = accept === null ? {} : { accept };
    const { res, bytes } = await get("/face/negotiate-me?size=32", { headers });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(type);
    expect(res.headers.get("vary")).toBe("Accept");
    expect(`image/${(await decodeAny(bytes)).format}`).toBe(type);
    // The canonical (versioned) URL names the format that was chosen.
    expect(res.headers.get("link")).toContain(`/negotiate-me.${type === "image/jpeg" ? "jpg" : type.slice(6)}?`);
  });
  it("the cache keeps one entry per format: a WebP answer is never served to a PNG-only client", async () => {
    const webp = await get("/face/no-mixup?size=24", { headers: { accept: "image/webp" } });
    const png = await get("/face/no-mixup?size=24", { headers: { accept: "image/png" } });
    expect(webp.res.headers.get("content-type")).toBe("image/webp");
    expect(png.res.headers.get("content-type")).toBe("image/png");
    expect(png.res.headers.get("etag")).not.toBe(webp.res.headers.get("etag"));
    decodePng(png.bytes);
    // 304 on the negotiated URL keeps Vary.
    const nm = await get("/face/no-mixup?size=24", { headers: { accept: "image/webp", "if-none-match": webp.res.headers.get("etag")! } });
    expect(nm.res.status).toBe(304);
    expect(nm.res.headers.get("vary")).toBe("Accept");
    expect(nm.res.headers.get("cache-control")).toBe(UNVERSIONED);
  });
  it("negotiateFormat: property: the answer is always a format the header accepts, or PNG", () => {
    const types = ["image/webp", "image/avif", "image/png", "image/jpeg", "image/gif", "*/*", "image/*", "text/html"];
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...types), fc.constantFrom("", ";q=0", ";q=0.5", ";q=1")), { maxLength: 5 }), (parts) => {
      const accept = parts.map(([t, q]) => t + q).join(", ");
      const f = negotiateFormat(accept);
      const mime = f === "jpeg" ? "image/jpeg" : `image/${f}`;
      const accepted = parts.some(([t, q]) => t === mime && q !== ";q=0");
      expect(accepted || f === "png", accept).toBe(true);
    }), { numRuns: 300 });
  });
});

describe("versioned and unversioned URLs", () => {
  it("only /v/<model>@<version>/ is immutable; /face/ is short-lived, revalidated and links to it", async () => {
    const u = await get("/face/cache-me.webp?size=32");
    expect(u.res.headers.get("cache-control")).toBe(UNVERSIONED);
    const link = /^<([^>]+)>; rel="canonical"$/.exec(u.res.headers.get("link") ?? "")?.[1];
    expect(link).toBe(`${w.url}/v/${id}@${version}/face/cache-me.webp?size=32&psi=${(await defaultPsi()).toFixed(2)}&model=student`);
    const v = await get(new URL(link!).pathname + new URL(link!).search);
    expect(v.res.status).toBe(200);
    expect(v.res.headers.get("cache-control")).toBe(IMMUTABLE);
    expect(v.res.headers.get("link")).toBeNull();
    // The same face, the same bytes and ETag: only the caching differs.
    expect(same(v.bytes, u.bytes)).toBe(true);
    expect(v.res.headers.get("etag")).toBe(u.res.headers.get("etag"));
    // If-None-Match gives 304 on both, with each URL's own Cache-Control.
    const etag = u.res.headers.get("etag")!;
    const nu = await get("/face/cache-me.webp?size=32", { headers: { "if-none-match": etag } });
    const nv = await get(`/v/${id}@${version}/face/cache-me.webp?size=32`, { headers: { "if-none-match": etag } });
    expect([nu.res.status, nv.res.status]).toEqual([304, 304]);
    expect(nu.res.headers.get("cache-control")).toBe(UNVERSIONED);
    expect(nv.res.headers.get("cache-control")).toBe(IMMUTABLE);
    expect(nv.res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
  });
  it("versioned morph and avatar paths work too", async () => {
    const m = await get(`/v/${id}@${version}/morph/a/b.webp?size=24&t=0.25`);
    expect(m.res.status).toBe(200);
    expect(m.res.headers.get("cache-control")).toBe(IMMUTABLE);
    const a = await get(`/v/${id}@${version}/avatar/${"ab".repeat(16)}.jpg?s=24`);
    expect(a.res.status).toBe(200);
    expect(a.res.headers.get("content-type")).toBe("image/jpeg");
    expect(a.res.headers.get("cache-control")).toBe(IMMUTABLE);
  });
  it("an unknown model or version is a clear JSON 404; a malformed one a 400; never cached", async () => {
    for (const [path, status, code] of [
      [`/v/${id}@0.0.0-nope/face/alice.png`, 404, "unknown_version"],
      [`/v/${id}@${version}x/face/alice.png`, 404, "unknown_version"],
      [`/v/not-a-model@${version}/face/alice.png`, 404, "unknown_model"],
      [`/v/${id}/face/alice.png`, 400, "bad_version"],
      [`/v/@/face/alice.png`, 400, "bad_version"],
      [`/v/${id}@${version}/nothing/alice.png`, 404, "not_found"],
      [`/v/${id}@${version}`, 404, "not_found"],
    ] as const) {
      const { res, bytes } = await get(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(errorCode(bytes), path).toBe(code);
    }
  });
});

async function defaultPsi(): Promise<number> {
  const m = ((await (await fetch(`${w.url}/v1/models`)).json()) as { models: { params: { psi: { default: number } } }[] }).models[0]!;
  return m.params.psi.default;
}

describe("morph route", () => {
  it("/morph/<a>/<b>: %2F inside a seed is part of it; canonical t; cached", async () => {
    const a = await get("/morph/x%2Fy/z.webp?size=24&t=0.5");
    expect(a.res.status).toBe(200);
    expect(a.res.headers.get("link")).toContain("/morph/x%2Fy/z.webp?size=24&");
    expect(a.res.headers.get("link")).toContain("&t=0.50>");
    const b = await get("/morph/x%2Fy/z.webp?t=.5&size=24");
    expect(b.res.headers.get("x-face-source")).toBe("cache");
    expect(same(a.bytes, b.bytes)).toBe(true);
    const other = await get("/morph/x/y%2Fz.webp?size=24&t=0.5");
    expect(other.res.headers.get("etag")).not.toBe(a.res.headers.get("etag"));
  });
});

describe("Gravatar drop-in", () => {
  const md5 = createHash("md5").update("alice@example.com").digest("hex");
  const sha = createHash("sha256").update("alice@example.com").digest("hex");
  it("/avatar/<md5> defaults to 80 px; s= and size= clamp; d, r, f accepted; case-insensitive hash", async () => {
    const d = await get(`/avatar/${md5}`);
    expect(d.res.status).toBe(200);
    expect((await decodeAny(d.bytes)).width).toBe(80);
    expect(d.res.headers.get("vary")).toBe("Accept");
    const s = await get(`/avatar/${md5}.jpg?s=40&d=identicon&r=pg&f=y`);
    expect(s.res.headers.get("content-type")).toBe("image/jpeg");
    expect((await decodeAny(s.bytes)).width).toBe(40);
    const clamped = await get(`/avatar/${md5}.png?s=1`);
    expect(decodePng(clamped.bytes).width).toBe(16);
    const sized = await get(`/avatar/${md5}.png?size=4`);
    expect(decodePng(sized.bytes).width).toBe(16);
    for (const dv of ["404", "mp", "monsterid", "wavatar", "retro", "robohash", "blank", encodeURIComponent("https://example.com/a.png")]) {
      expect((await get(`/avatar/${md5}.png?s=16&d=${dv}`)).res.status, dv).toBe(200);
    }
    const upper = await get(`/avatar/${md5.toUpperCase()}.jpg?s=40&r=G`);
    expect(upper.res.headers.get("etag")).toBe(s.res.headers.get("etag"));
  });
  it("/avatar/<sha256> is the face of the hash: the same as /face/<hash>", async () => {
    const a = await get(`/avatar/${sha}.png?s=32`);
    const f = await get(`/face/${sha}.png?size=32`);
    expect(a.res.status).toBe(200);
    expect(a.res.headers.get("etag")).toBe(f.res.headers.get("etag"));
    expect(same(a.bytes, f.bytes)).toBe(true);
  });
  it("Gravatar parameters on /face/ behave the same way", async () => {
    const r = await get("/face/alice.png?s=40&d=mp&r=x&f=n");
    expect(r.res.status).toBe(200);
    expect(decodePng(r.bytes).width).toBe(40);
    expect(r.res.headers.get("etag")).toBe((await get("/face/alice.png?size=40")).res.headers.get("etag"));
    expect((await get("/face/alice.png?s=5000", { method: "HEAD" })).res.status).toBe(200);
    expect(errorCode((await get("/face/alice.png?r=adult")).bytes)).toBe("bad_rating");
    expect(errorCode((await get("/face/alice.png?s=1.5")).bytes)).toBe("bad_size");
  });
  it("other hash lengths and non-hex are 400 JSON", async () => {
    for (const h of ["", "abc", "g".repeat(32), "a".repeat(31), "a".repeat(33), "a".repeat(63), "a".repeat(65)]) {
      const { res, bytes } = await get(`/avatar/${h}.png`);
      expect(res.status, h).toBe(h === "" ? 400 : 400);
      expect(errorCode(bytes)).toBe("bad_hash");
    }
  });
});

describe("small things", () => {
  it("/favicon.ico redirects to a versioned PNG face; /robots.txt keeps crawlers off the faces", async () => {
    const f = await get("/favicon.ico");
    expect(f.res.status).toBe(302);
    const loc = f.res.headers.get("location")!;
    expect(loc).toBe(`/v/${id}@${version}/face/seedface.png?size=32`);
    const icon = await get(loc);
    expect(decodePng(icon.bytes).width).toBe(32);
    const r = await get("/robots.txt");
    expect(r.res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(new TextDecoder().decode(r.bytes)).toMatch(/Disallow: \/face\/\nDisallow: \/morph\/\nDisallow: \/avatar\//);
  });
});

describe("e-mail hashing helper", () => {
  it("normalises (trim, lowercase) and SHA-256s: the same hex as a server computes", async () => {
    fc.assert(fc.asyncProperty(fc.emailAddress(), fc.constantFrom("", " ", "\t", "\n "), fc.boolean(), async (email, pad, upper) => {
      const input = pad + (upper ? email.toUpperCase() : email) + pad;
      const want = createHash("sha256").update(email.trim().toLowerCase()).digest("hex");
      expect(normalizeEmail(input)).toBe(email.toLowerCase());
      expect(await hashEmail(input)).toBe(want);
    }), { numRuns: 100 });
    expect(await hashEmail(" Alice@Example.COM ")).toBe(createHash("sha256").update("alice@example.com").digest("hex"));
  });
  it("/embed.js exports hashEmail, emailFaceUrl and faceUrl, with the served model baked in", async () => {
    const { res, bytes } = await get("/embed.js");
    expect(res.status).toBe(200);
    const js = new TextDecoder().decode(bytes);
    const exports = /export\s*\{([^}]*)\}/.exec(js)?.[1] ?? "";
    for (const name of ["hashEmail", "emailFaceUrl", "faceUrl", "morphUrl", "SeedFace"]) expect(exports, name).toMatch(new RegExp(`\\b${name}\\b`));
    expect(js).toContain(`"${id}@${version}"`);
    expect(readFileSync(join(REPO, "dist-assets/embed.js"), "utf8")).toBe(js);
  });
});
