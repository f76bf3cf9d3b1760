// Privacy helper: an e-mail address becomes a seed without ever reaching a URL. Normalise (trim, lowercase) and
// SHA-256 it, lowercase hex: the same seed Gravatar's SHA-256 URLs use, so /face/<hash> and /avatar/<hash> agree.
// Servers do the same: Node `createHash("sha256").update(email.trim().toLowerCase()).digest("hex")` (docs/embed.md).

/** Trim and lowercase an e-mail address (Gravatar's normalisation). */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** SHA-256 of the normalised address, as 64 lowercase hex digits (Web Crypto: browsers, workers, Node >= 20). */
export async function hashEmail(email: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(normalizeEmail(email))));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}
