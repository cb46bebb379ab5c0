import type { Request, Response } from "express";
import { z } from "zod";
import { ApiError } from "@org/task-core";
import { followLogs, streamLogs, type LogQuery } from "@org/task-logs";
import type { TaskManager } from "../manager/task-manager.js";
import { parseOrThrow, QueryBoolean, QueryWholeNumber, taskNameParam } from "./validation.js";

/** The query of `GET /tasks/{name}/logs`, named after `kubectl logs`. */
export const LogsQuerySchema = z
  .object({
    stream: z.enum(["stdout", "stderr", "all"], { error: "stream must be stdout, stderr or all" }).default("all"),
    tailLines: QueryWholeNumber.optional(),
    limitBytes: QueryWholeNumber.refine((value) => value > 0, { error: "must be > 0" }).optional(),
    sinceSeconds: QueryWholeNumber.refine((value) => value > 0, { error: "must be > 0" }).optional(),
    sinceTime: z.iso.datetime({ offset: true, error: "sinceTime must be an RFC 3339 time" }).optional(),
    timestamps: QueryBoolean.optional(),
    follow: QueryBoolean.optional(),
  })
  .refine((query) => !(query.sinceSeconds !== undefined && query.sinceTime !== undefined), {
    error: "sinceSeconds and sinceTime are exclusive",
    path: ["sinceTime"],
  });

/** `GET /tasks/{name}/logs`: the task's output as plain bytes; `follow=true` streams until the task ends. */
export function logsHandler(manager: TaskManager) {
  return async (request: Request, response: Response): Promise<void> => {
    const name = taskNameParam(request.params.name);
    const query = parseOrThrow(LogsQuerySchema, request.query, "query");
    const view = manager.runtimeView(name);
    const files = view.runtime.logFiles(view.task);
    if (files.length === 0) throw new ApiError("NotFound", `logs of task ${name} cannot be read: its runtime is not enabled`);
    const since =
      query.sinceTime !== undefined ? new Date(query.sinceTime) : query.sinceSeconds !== undefined ? new Date(Date.now() - query.sinceSeconds * 1000) : undefined;
    const logQuery: LogQuery = {
      stream: query.stream,
      ...(query.tailLines !== undefined ? { tailLines: query.tailLines } : {}),
      ...(query.limitBytes !== undefined ? { limitBytes: query.limitBytes } : {}),
      ...(since ? { since } : {}),
      ...(query.timestamps ? { timestamps: true } : {}),
    };
    response.setHeader("content-type", "text/plain; charset=utf-8");
    response.setHeader("x-content-type-options", "nosniff");
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    const abort = new AbortController();
    request.on("close", () => abort.abort());
    // The chunks go to the socket as they are (never as views of them), so pooled buffers are safe here.
    const options = { signal: abort.signal, reuseBuffers: true };
    if (!query.follow) {
      // Streamed in bounded pieces (a whole log in one reply buffer would cost its size in memory, and more).
      await writeChunks(streamLogs(files, logQuery, options), response, abort.signal);
      return;
    }
    response.setHeader("cache-control", "no-cache");
    response.flushHeaders();
    await writeChunks(followLogs(files, logQuery, { ...options, isFinished: view.isFinished }), response, abort.signal);
  };
}

/**
 * Writes the chunks as they come, waiting while the socket's buffer is full, then ends the reply. A failure
 * before the first chunk is thrown (the error handler answers it); after that the reply is cut short.
 */
async function writeChunks(chunks: AsyncIterable<Buffer>, response: Response, signal: AbortSignal): Promise<void> {
  try {
    for await (const chunk of chunks) {
      if (response.write(chunk)) continue;
      // A client that goes away while its buffer is full never drains: stop waiting then too.
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off("drain", done);
          response.off("close", done);
          resolve();
        };
        response.once("drain", done);
        response.once("close", done);
      });
      if (signal.aborted) break;
    }
  } catch (error) {
    if (!response.headersSent) throw error;
    response.destroy(error as Error);
    return;
  }
  response.end();
}
