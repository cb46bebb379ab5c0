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

/**
 * When a response is finished: one debug line (method, route, status, durationMs, reqId) and the request's
 * metrics (`observe`), from one listener and one measurement.
 */
export function accessLog(logger: Logger, observe: (labels: { method: string; route: string; code: string }, seconds: number) => void): RequestHandler {
  return (request, response, next) => {
    const started = process.hrtime.bigint();
    response.once("finish", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const fields = requestFields(request, response);
      observe({ method: fields.method, route: fields.route, code: String(response.statusCode) }, seconds);
      logger.debug("request", { ...fields, status: response.statusCode, durationMs: seconds * 1000, reqId: requestIdOf(response) });
    });
    next();
  };
}
