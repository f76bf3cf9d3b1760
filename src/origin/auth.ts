// Bearer-token check in constant time: both sides are hashed first so neither length nor content leaks via timing.
import { createHash, timingSafeEqual } from "node:crypto";

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

export function makeBearerCheck(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    // Always do one comparison, even when the header is missing or malformed.
    const ok = timingSafeEqual(digest(m?.[1] ?? ""), expected);
    return ok && m !== null;
  };
}
