// One error shape for every JSON error the edge and the origin return: {"error": {"code", "message"}}.

export interface ErrorBody {
  error: { code: string; message: string };
}

/** An error meant for the client: status, machine-readable code, human message, extra headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }

  body(): ErrorBody {
    return errorBody(this.code, this.message);
  }
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

export function isErrorBody(x: unknown): x is ErrorBody {
  if (typeof x !== "object" || x === null) return false;
  const e = (x as { error?: unknown }).error;
  return typeof e === "object" && e !== null && typeof (e as { code?: unknown }).code === "string"
    && typeof (e as { message?: unknown }).message === "string";
}

/** A JSON error Response (Web API Response: works in workerd, Node >= 18 and browsers). */
export function errorResponse(err: HttpError, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(err.body()), {
    status: err.status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      "access-control-allow-origin": "*",
      ...err.headers,
      ...extraHeaders,
    },
  });
}
