// The edge worker's HTTP surface (Hono). Every error leaves as JSON {"error":{"code","message"}}.
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { errorResponse, HttpError } from "../shared/errors.js";
import { ManifestError } from "../shared/manifest.js";
import type { EdgeEnv } from "./config.js";
import { mountEmbedRoutes } from "./embed-routes.js";
import { handleFace } from "./face-route.js";
import { healthRoute, modelsRoute } from "./info-routes.js";
import { requireModel } from "./isolate.js";

/** CORS preflight (hono/cors) for a route, plus the Allow header the preflight has always carried. */
function preflight(allow: string): [MiddlewareHandler, MiddlewareHandler] {
  const withAllow: MiddlewareHandler = async (c, next) => {
    await next();
    c.res.headers.set("allow", allow);
  };
  return [withAllow, cors({ origin: "*", allowMethods: allow.split(", "), allowHeaders: ["If-None-Match"], maxAge: 86400 })];
}

function methodNotAllowed(allow: string) {
  return (c: Context) =>
    errorResponse(new HttpError(405, "method_not_allowed", `${c.req.method} is not allowed here; use ${allow}`, { allow }));
}

/** GET and HEAD on a route; OPTIONS is a CORS preflight; any other method is a JSON 405. */
function only(app: Hono<{ Bindings: EdgeEnv }>, allow: string, route: string): void {
  const [withAllow, answer] = preflight(allow);
  app.on("OPTIONS", route, withAllow, answer);
  app.all(route, methodNotAllowed(allow));
}

export function createApp(): Hono<{ Bindings: EdgeEnv }> {
  const app = new Hono<{ Bindings: EdgeEnv }>();
  for (const route of ["/face/*", "/morph/*", "/avatar/*", "/v/*"]) {
    app.on(["GET", "HEAD"], route, handleFace);
    only(app, "GET, HEAD, OPTIONS", route);
  }
  // The site's own icon: the face of "seedface", versioned (a browser follows the redirect for favicons).
  app.on(["GET", "HEAD"], "/favicon.ico", () => {
    const m = requireModel().manifest;
    return new Response(null, {
      status: 302,
      headers: {
        location: `/v/${encodeURIComponent(m.id)}@${encodeURIComponent(m.version)}/face/seedface.png?size=32`,
        "cache-control": "public, max-age=86400",
      },
    });
  });
  // Faces are addressed by seeds, often e-mail addresses or their hashes: nothing here is for search engines.
  app.on(["GET", "HEAD"], "/robots.txt", () =>
    new Response("User-agent: *\nDisallow: /face/\nDisallow: /morph/\nDisallow: /avatar/\nDisallow: /v/\nAllow: /\n", {
      headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "public, max-age=86400" },
    }));
  app.on(["GET", "HEAD"], "/v1/models", modelsRoute);
  only(app, "GET, HEAD", "/v1/models");
  app.on(["GET", "HEAD"], "/healthz", healthRoute);
  only(app, "GET, HEAD", "/healthz");
  mountEmbedRoutes(app);

  app.notFound((c) => errorResponse(new HttpError(404, "not_found", `no route for ${new URL(c.req.url).pathname}; faces are at /face/<seed>.<png|webp|jpg|avif>, /morph/<a>/<b>.<ext>, /avatar/<md5|sha256>`)));
  app.onError((err) => {
    if (err instanceof HttpError) return errorResponse(err);
    if (err instanceof ManifestError) {
      console.error(err.message);
      return errorResponse(new HttpError(503, "bad_model", err.message, { "retry-after": "300" }));
    }
    // A genuine internal failure: log it, answer JSON, never cache.
    console.error("internal error:", err);
    return errorResponse(new HttpError(500, "internal", "internal error while drawing the face; it was logged"));
  });
  return app;
}
