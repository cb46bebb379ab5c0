import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "@org/task-core";
import { requestIdOf } from "./request-context.js";

/** The matched route pattern (`/tasks/:name`), never the raw path, so task names stay out of labels and logs. */
export function routeOf(request: Request): string {
  return (request.route?.path as string | undefined) ?? "unmatched";
}

/**
 * Remembers the `:name` of a matched route for the log lines of the request: `request.params` is another layer's
 * by the time the error handler or the access log run. Registered with `app.param("name", ...)`.
 */
export const rememberTaskParam = (_request: Request, response: Response, next: () => void, value: unknown) => {
  if (typeof value === "string") response.locals.task = value;
  next();
};

/** The fields that name a request on every log line about it: method, route pattern, and the task it is about. */
export function requestFields(request: Request, response: Response): { method: string; route: string; task?: string } {
  const task = (response.locals as { task?: string }).task;
  return { method: request.method, route: routeOf(request), ...(task !== undefined ? { task } : {}) };
}

/** One debug line per request when its response is finished: method, route, status, durationMs, reqId. */
export function accessLog(logger: Logger): RequestHandler {
  return (request, response, next) => {
    const started = process.hrtime.bigint();
    response.once("finish", () => {
      logger.debug("request", {
        ...requestFields(request, response),
        status: response.statusCode,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        reqId: requestIdOf(response),
      });
    });
    next();
  };
}
