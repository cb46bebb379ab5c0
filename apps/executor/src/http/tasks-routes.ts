import { Router } from "express";
import { z } from "zod";
import { TaskRequestSchema, TaskSetRequestSchema } from "@org/task-core";
import type { TaskManager } from "../manager/task-manager.js";
import { route } from "./errors.js";
import { parseOrThrow, QueryWholeNumber, taskNameParam } from "./validation.js";

const MAX_WAIT_SECONDS = 3600;

const GetTaskQuery = z.object({
  waitFor: z.literal("terminated", { error: "waitFor only supports 'terminated'" }).optional(),
  timeoutSeconds: QueryWholeNumber.optional(),
});

/** The guide's task endpoints plus stop and long-poll. */
export function tasksRouter(manager: TaskManager): Router {
  const router = Router();

  router.get("/getTasks", (_request, response) => {
    response.json(manager.list());
  });

  router.post(
    "/tasks",
    route(async (request, response) => {
      const task = parseOrThrow(TaskRequestSchema, request.body, "task");
      response.status(201).json(await manager.create(task));
    }),
  );

  router.post(
    "/setTasks",
    route(async (request, response) => {
      const tasks = parseOrThrow(TaskSetRequestSchema, request.body, "task list");
      response.json(await manager.sync(tasks));
    }),
  );

  router.get(
    "/tasks/:name",
    route(async (request, response) => {
      const name = taskNameParam(request.params.name);
      const query = parseOrThrow(GetTaskQuery, request.query, "query");
      if (query.waitFor === undefined) {
        response.json(manager.get(name));
        return;
      }
      const seconds = Math.min(query.timeoutSeconds ?? 30, MAX_WAIT_SECONDS);
      response.json(await manager.waitForTerminal(name, seconds * 1000));
    }),
  );

  router.delete(
    "/tasks/:name",
    route(async (request, response) => {
      await manager.delete(taskNameParam(request.params.name));
      response.status(204).end();
    }),
  );

  router.post(
    "/tasks/:name/stop",
    route(async (request, response) => {
      response.json(await manager.stop(taskNameParam(request.params.name)));
    }),
  );

  return router;
}
