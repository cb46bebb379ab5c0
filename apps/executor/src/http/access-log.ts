import type { Request, RequestHandler } from "express";
import type { Logger } from "@org/task-core";
import { requestIdOf } from "./request-context.js";

/** The matched route pattern (`/tasks/:name`), never the raw path, so task names stay out of labels and logs. */
export function routeOf(request: Request): string {
  return (request.route?.path as string | undefined) ?? "unmatched";
}

/** One debug line per request when its response is finished: method, route, code, durationMs, reqId. */
export function accessLog(logger: Logger): RequestHandler {
  return (request, response, next) => {
    const started = process.hrtime.bigint();
    response.once("finish", () => {
      logger.debug("request", {
        method: request.method,
        route: routeOf(request),
        code: response.statusCode,
        durationMs: Number(process.hrtime.bigint() - started) / 1e6,
        reqId: requestIdOf(response),
      });
    });
    next();
  };
}
