import express, { type Express } from "express";
import type { HealthReply, Logger } from "@org/task-core";
import type { EventHub } from "../manager/event-hub.js";
import type { TaskManager } from "../manager/task-manager.js";
import { requireToken, type TokenFile } from "./auth.js";
import { errorHandler, notFoundHandler, route } from "./errors.js";
import { eventsHandler } from "./events-route.js";
import { logsHandler } from "./logs-route.js";
import { createMetrics } from "./metrics.js";
import { tasksRouter } from "./tasks-routes.js";

export interface AppDeps {
  manager: TaskManager;
  hub: EventHub;
  logger: Logger;
  maxRequestBytes: number;
  tokens: TokenFile | undefined;
  /** The reply of `/health`. */
  health: () => HealthReply;
}

/** Endpoints by path, for 405 replies that list the allowed methods. */
const KNOWN_PATHS = [
  { pattern: /^\/health$/, methods: ["GET"] },
  { pattern: /^\/getTasks$/, methods: ["GET"] },
  { pattern: /^\/setTasks$/, methods: ["POST"] },
  { pattern: /^\/events$/, methods: ["GET"] },
  { pattern: /^\/metrics$/, methods: ["GET"] },
  { pattern: /^\/tasks$/, methods: ["POST"] },
  { pattern: /^\/tasks\/[^/]+$/, methods: ["GET", "DELETE"] },
  { pattern: /^\/tasks\/[^/]+\/stop$/, methods: ["POST"] },
  { pattern: /^\/tasks\/[^/]+\/logs$/, methods: ["GET"] },
];

/** The executor's HTTP API. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const metrics = createMetrics(deps.manager, deps.hub);
  app.use(metrics.measure);
  app.get("/health", (_request, response) => {
    response.json(deps.health());
  });
  if (deps.tokens) app.use(requireToken(deps.tokens));
  // Any content type is read as JSON: `curl -d` without a header must work too.
  app.use(express.json({ limit: deps.maxRequestBytes, type: () => true, strict: false }));
  app.use(tasksRouter(deps.manager));
  app.get("/tasks/:name/logs", route(logsHandler(deps.manager)));
  app.get("/events", eventsHandler(deps.hub, deps.logger));
  app.get("/metrics", metrics.serve);
  app.use(notFoundHandler(KNOWN_PATHS));
  app.use(errorHandler(deps.logger));
  return app;
}
