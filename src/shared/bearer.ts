// Bearer tokens (edge -> origin, contract.ts): the one header format and the one constant-time check, for every
// runtime (origin, test fakes; no node:crypto, so it also runs in workerd and browsers).
// Not hono/bearer-auth: that answers a malformed header with 400 and a plain-text body, where the contract pins 401
// with the JSON error body {"error":{"code","message"}} for every missing or wrong token.

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Token from an Authorization header, or null. */
export function parseBearer(header: string | null | undefined): string | null {
  const m = BEARER.exec(header ?? "");
  return m ? m[1]! : null;
}

/**
 * Constant-time comparison of a presented token with the expected one: the loop always runs over the expected
 * token's length, so the time tells neither where the first difference is nor the presented token's length.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  let diff = presented.length ^ expected.length;
  const n = presented.length || 1;
  for (let i = 0; i < expected.length; i++) diff |= presented.charCodeAt(i % n) ^ expected.charCodeAt(i);
  return diff === 0;
}

/** A check of an Authorization header against one token; always one comparison, even when the header is missing or malformed. */
export function makeBearerCheck(token: string): (authorization: string | null | undefined) => boolean {
  return (authorization) => {
    const presented = parseBearer(authorization);
    const ok = tokensEqual(presented ?? "", token);
    return ok && presented !== null;
  };
}
