// The edge worker's HTTP surface (Hono). Every error leaves as JSON {"error":{"code","message"}}.
import { Hono } from "hono";
import type { Context } from "hono";
import { errorResponse, HttpError } from "../shared/errors.js";
import { ManifestError } from "../shared/manifest.js";
import type { Env } from "./config.js";
import { mountEmbedRoutes } from "./embed-routes.js";
import { handleFace, requireModel } from "./face-route.js";
import { healthRoute, modelsRoute } from "./info-routes.js";

function methodNotAllowed(allow: string) {
  return (c: Context) => {
    if (c.req.method === "OPTIONS") {
      return new Response(null, {
        status: 204,
        headers: {
          allow,
          "access-control-allow-origin": "*",
          "access-control-allow-methods": allow,
          "access-control-allow-headers": "If-None-Match",
          "access-control-max-age": "86400",
        },
      });
    }
    return errorResponse(new HttpError(405, "method_not_allowed", `${c.req.method} is not allowed here; use ${allow}`, { allow }));
  };
}

export function createApp(): Hono<{ Bindings: Env }> {
  const app = new Hono<{ Bindings: Env }>();
  for (const route of ["/face/*", "/morph/*", "/avatar/*", "/v/*"]) {
    app.on(["GET", "HEAD"], route, handleFace);
    app.all(route, methodNotAllowed("GET, HEAD, OPTIONS"));
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
  app.all("/v1/models", methodNotAllowed("GET, HEAD"));
  app.on(["GET", "HEAD"], "/healthz", healthRoute);
  app.all("/healthz", methodNotAllowed("GET, HEAD"));
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
