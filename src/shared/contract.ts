// The edge <-> origin contract (version seedface-origin/1). Both sides import this file.
//
// Request (edge -> origin):
//   GET|HEAD <ORIGIN_URL>/v1/face/<seed>.png?size=<16..1024>&psi=<0.00..1.00>&model=<student|teacher>
//   GET|HEAD <ORIGIN_URL>/v1/morph/<seedA>/<seedB>.png?size=..&psi=..&model=..&t=<0.00..1.00>   (morph)
//   Seeds are percent-encoded with encodeSeed (encodeURIComponent + "~" as %7E); the query is exactly the
//   canonical one (params.ts), so both sides agree on the cache key. Parsing on the origin = parseFacePath.
//   The edge always asks for PNG (lossless, checked by edge/origin-png.ts) and encodes other formats itself with
//   the same codec build and options the origin uses (shared/codecs.ts), so the bytes are the same either way.
//   The origin also answers .webp/.jpg/.avif and extension-less (Accept) URLs for direct clients.
//   Headers: Authorization: Bearer <ORIGIN_TOKEN> (when the origin is configured with a token it must answer 401
//   without it), X-Face-Request-Id: <opaque id for logs>, Accept: image/png.
// Response (origin -> edge):
//   200 image/png, exactly size x size RGB, same pixel pipeline as the edge (src/shared/face.ts, fp32 networks);
//   headers X-Face-Model: "<id>@<version>/<network>-<precision>", X-Face-Render-Ms: <float>, Server-Timing.
//   Errors: JSON {"error":{"code","message"}} with 400 (bad params), 401 (token), 404, 503 (+ Retry-After, busy or
//   loading). The edge treats 5xx and network errors as origin failures (retry once on network errors only) and
//   4xx as final answers it passes on (except 401, which is an edge misconfiguration and becomes 503).
//   GET <ORIGIN_URL>/v1/healthz -> 200 {"ok":true,...} when ready.
import type { FaceRequest } from "./params.js";
import { canonicalPath } from "./params.js";

export const CONTRACT_VERSION = "seedface-origin/1";
export const ORIGIN_FACE_PREFIX = "/v1/face/";
export const ORIGIN_MORPH_PREFIX = "/v1/morph/";
export const ORIGIN_API_PREFIX = "/v1";
export const ORIGIN_HEALTH_PATH = "/v1/healthz";

export const HEADER_MODEL = "x-face-model";
export const HEADER_SOURCE = "x-face-source";
export const HEADER_DEGRADED = "x-face-degraded";
/** Set when the edge drew a smaller level than the size asks for and upscaled it (above the edge's size limit, no origin). */
export const HEADER_UPSCALED = "x-face-upscaled";
export const HEADER_RENDER_MS = "x-face-render-ms";
export const HEADER_REQUEST_ID = "x-face-request-id";

export type FaceSource = "edge" | "cache" | "origin";

/** Path + query the edge requests from an origin for a canonical request: "/v1/face/<seed>.png?size&psi&model" (always PNG). */
export function originPath(req: FaceRequest): string {
  return ORIGIN_API_PREFIX + canonicalPath(req, "png");
}

/** Join an origin base URL (from config, never from a request) and a contract path. */
export function originUrl(base: string, req: FaceRequest): string {
  return base.replace(/\/+$/, "") + originPath(req);
}

/** "<id>@<version>/<network>-<precision>", the X-Face-Model value. */
export function modelLabel(id: string, version: string, network: string, precision: string): string {
  return `${id}@${version}/${network}-${precision}`;
}
