import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { RequestHandler, Response } from "express";
import type { Logger } from "@org/task-core";

/** A client's id is kept when it is 1–128 visible ASCII characters; anything else could forge or flood log lines. */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

interface RequestContext {
  reqId: string;
  /** False once the response is done: work a request started and that outlives it no longer logs its id. */
  handling: boolean;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The request id of a response (set by {@link requestId}). */
export function requestIdOf(response: Response): string | undefined {
  return (response.locals as { reqId?: string }).reqId;
}

/**
 * Gives every request an id: the client's `X-Request-Id` when it is valid, else a new UUID. It is echoed in the
 * `X-Request-Id` reply header and carried in an async context, so {@link withRequestIds} adds it to every log line.
 */
export function requestId(): RequestHandler {
  return (request, response, next) => {
    const incoming = request.get("x-request-id");
    const reqId = incoming !== undefined && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    response.setHeader("X-Request-Id", reqId);
    response.locals.reqId = reqId;
    const context: RequestContext = { reqId, handling: true };
    response.once("close", () => {
      context.handling = false;
    });
    storage.run(context, next);
  };
}

/** A logger that adds `reqId` to every line written while a request is being handled. */
export function withRequestIds(logger: Logger): Logger {
  const meta = (fields: Record<string, unknown> | undefined) => {
    const context = storage.getStore();
    if (!context?.handling || fields?.reqId !== undefined) return fields;
    return { ...fields, reqId: context.reqId };
  };
  return {
    error: (message, fields) => logger.error(message, meta(fields)),
    warn: (message, fields) => logger.warn(message, meta(fields)),
    info: (message, fields) => logger.info(message, meta(fields)),
    debug: (message, fields) => logger.debug(message, meta(fields)),
  };
}
