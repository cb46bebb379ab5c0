import type { ErrorRequestHandler, RequestHandler } from "express";
import { ApiError, type Logger } from "@org/task-core";
import { storageError } from "../manager/storage-error.js";
import { requestFields } from "./access-log.js";
import { requestIdOf } from "./request-context.js";

/** The one place errors become HTTP replies: ApiError by its code, body-parser errors by type, the rest 500. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, request, response, _next) => {
    const apiError = toApiError(error);
    // The id is passed explicitly: an error may come after the client went away, when the context no longer adds it.
    const fields = { ...requestFields(request, response), status: apiError.httpStatus, code: apiError.code, reqId: requestIdOf(response) };
    if (apiError.httpStatus >= 500) {
      logger.error("request failed", { ...fields, error: String(error), stack: (error as Error)?.stack });
    } else {
      // `error`, not `message`: winston would fold a `message` field into the line's message.
      logger.debug("request rejected", { ...fields, error: apiError.message });
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }
    response.status(apiError.httpStatus).json(apiError.toBody());
  };
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const bodyError = error as { type?: string; status?: number; message?: string; limit?: number };
  switch (bodyError?.type) {
    case "entity.parse.failed":
      return new ApiError("InvalidJSON", `request body is not valid JSON: ${bodyError.message ?? ""}`.trim());
    case "entity.too.large":
      return new ApiError("PayloadTooLarge", `request body is larger than the limit of ${bodyError.limit} bytes`);
    case "encoding.unsupported":
    case "charset.unsupported":
      return new ApiError("UnsupportedMediaType", bodyError.message ?? "unsupported body encoding");
    case "request.aborted":
      return new ApiError("InvalidRequest", "request was aborted by the client");
    default:
      break;
  }
  if (typeof bodyError?.status === "number" && bodyError.status >= 400 && bodyError.status < 500) {
    return new ApiError("InvalidRequest", bodyError.message ?? "invalid request");
  }
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return storageError(error, "cannot write to the data dir");
  return new ApiError("Internal", "internal error; see the executor's log");
}

/** 404 for unknown paths; 405 with Allow for known paths and wrong methods. */
export function notFoundHandler(knownPaths: Array<{ pattern: RegExp; methods: string[] }>): RequestHandler {
  return (request, response) => {
    const known = knownPaths.find((entry) => entry.pattern.test(request.path));
    if (known) {
      response.setHeader("Allow", known.methods.join(", "));
      response.status(405).json(new ApiError("MethodNotAllowed", `${request.method} is not allowed on ${request.path}; use ${known.methods.join(" or ")}`).toBody());
      return;
    }
    response.status(404).json(new ApiError("NotFound", `no such endpoint: ${request.method} ${request.path}`).toBody());
  };
}

/** Wraps an async handler so a rejection reaches the error handler. */
export function route(handler: (...args: Parameters<RequestHandler>) => Promise<unknown>): RequestHandler {
  return (request, response, next) => {
    handler(request, response, next).catch(next);
  };
}
