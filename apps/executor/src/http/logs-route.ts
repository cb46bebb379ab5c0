import type { Request, Response } from "express";
import { z } from "zod";
import { ApiError } from "@org/task-core";
import { followLogs, readLogs, type LogQuery } from "@org/task-logs";
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
    if (!query.follow || request.method === "HEAD") {
      response.send(await readLogs(files, logQuery));
      return;
    }
    const abort = new AbortController();
    request.on("close", () => abort.abort());
    response.setHeader("cache-control", "no-cache");
    response.flushHeaders();
    // The chunks go to the socket as they are (never as views of them), so pooled buffers are safe here.
    const control = { isFinished: view.isFinished, signal: abort.signal, reuseBuffers: true };
    for await (const chunk of followLogs(files, logQuery, control)) {
      if (!response.write(chunk)) {
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
        if (abort.signal.aborted) break;
      }
    }
    response.end();
  };
}
