import type { RequestHandler } from "express";
import { z } from "zod";
import { TaskRequestSchema, TaskSetRequestSchema } from "@org/task-core";
import type { TaskManager } from "../manager/task-manager.js";
import { route } from "./errors.js";
import { parseOrThrow, QueryWholeNumber, taskNameParam } from "./validation.js";

const MAX_WAIT_SECONDS = 3600;

export const GetTaskQuery = z.object({
  waitFor: z.literal("terminated", { error: "waitFor only supports 'terminated'" }).optional(),
  timeoutSeconds: QueryWholeNumber.optional(),
});

/** One endpoint: the route table of the API is a list of these (see app.ts). */
export interface Endpoint {
  method: "GET" | "POST" | "DELETE";
  /** An express path; `:name` is one path segment. */
  path: string;
  handler: RequestHandler;
}

/** The guide's task endpoints plus stop and long-poll. */
export function taskEndpoints(manager: TaskManager): Endpoint[] {
  return [
    {
      method: "GET",
      path: "/getTasks",
      handler: (_request, response) => {
        // Serialised per task and cached with its record: a list of thousands of finished tasks is a join.
        response.type("application/json").send(manager.listJson());
      },
    },
    {
      method: "POST",
      path: "/tasks",
      handler: route(async (request, response) => {
        const task = parseOrThrow(TaskRequestSchema, request.body, "task");
        response.status(201).json(await manager.create(task));
      }),
    },
    {
      method: "POST",
      path: "/setTasks",
      handler: route(async (request, response) => {
        const tasks = parseOrThrow(TaskSetRequestSchema, request.body, "task list");
        await manager.sync(tasks);
        response.type("application/json").send(manager.listJson());
      }),
    },
    {
      method: "GET",
      path: "/tasks/:name",
      handler: route(async (request, response) => {
        const name = taskNameParam(request.params.name);
        const query = parseOrThrow(GetTaskQuery, request.query, "query");
        if (query.waitFor === undefined) {
          response.type("application/json").send(manager.getJson(name));
          return;
        }
        const seconds = Math.min(query.timeoutSeconds ?? 30, MAX_WAIT_SECONDS);
        response.json(await manager.waitForTerminal(name, seconds * 1000));
      }),
    },
    {
      method: "DELETE",
      path: "/tasks/:name",
      handler: route(async (request, response) => {
        await manager.delete(taskNameParam(request.params.name));
        response.status(204).end();
      }),
    },
    {
      method: "POST",
      path: "/tasks/:name/stop",
      handler: route(async (request, response) => {
        response.json(await manager.stop(taskNameParam(request.params.name)));
      }),
    },
  ];
}
