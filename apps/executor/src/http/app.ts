import express, { type Express } from "express";
import type { ExecutorHealthReply, Logger } from "@org/task-core";
import type { EventHub } from "../manager/event-hub.js";
import type { TaskManager } from "../manager/task-manager.js";
import { requireToken, type TokenFile } from "./auth.js";
import { errorHandler, notFoundHandler, route } from "./errors.js";
import { eventsHandler } from "./events-route.js";
import { logsHandler } from "./logs-route.js";
import { accessLog, rememberTaskParam } from "./access-log.js";
import type { ExecutorMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { readyHandler, type ReadyReply } from "./readiness.js";
import { requestId } from "./request-context.js";
import { taskEndpoints, type Endpoint } from "./tasks-routes.js";

export interface AppDeps {
  manager: TaskManager;
  hub: EventHub;
  logger: Logger;
  maxRequestBytes: number;
  tokens: TokenFile | undefined;
  /** The reply of `/health`. */
  health: () => ExecutorHealthReply;
  /** The readiness checks of `/ready` (cached and bounded, see readiness.ts). */
  ready: () => Promise<ReadyReply>;
  metrics: ExecutorMetrics;
}

/** Paths of the route table with their methods, for 405 replies that list the allowed ones. */
function knownPaths(endpoints: Endpoint[]): Array<{ pattern: RegExp; methods: string[] }> {
  const byPath = new Map<string, string[]>();
  for (const endpoint of endpoints) byPath.set(endpoint.path, [...(byPath.get(endpoint.path) ?? []), endpoint.method]);
  return [...byPath].map(([path, methods]) => ({ pattern: new RegExp(`^${path.replace(/:[A-Za-z]+/g, "[^/]+")}$`), methods }));
}

/** The OpenAPI document, serialised once: it never changes while the executor runs. */
let openApiJson: string | undefined;

/** The executor's HTTP API. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  const { metrics } = deps;
  app.use(requestId());
  app.use(accessLog(deps.logger, (labels, seconds) => metrics.observeRequest(labels, seconds)));
  app.param("name", rememberTaskParam);
  // The route table, once: registered below and the source of the 405 replies.
  const publicEndpoints: Endpoint[] = [
    { method: "GET", path: "/health", handler: (_request, response) => void response.json(deps.health()) },
    { method: "GET", path: "/ready", handler: readyHandler(deps.ready) },
    { method: "GET", path: "/openapi.json", handler: (_request, response) => void response.type("application/json").send((openApiJson ??= JSON.stringify(openApiDocument()))) },
  ];
  const endpoints: Endpoint[] = [
    ...taskEndpoints(deps.manager),
    { method: "GET", path: "/tasks/:name/logs", handler: route(logsHandler(deps.manager)) },
    { method: "GET", path: "/events", handler: eventsHandler(deps.hub, deps.logger) },
    { method: "GET", path: "/metrics", handler: metrics.serve },
  ];
  const register = (endpoint: Endpoint) => app[endpoint.method === "GET" ? "get" : endpoint.method === "POST" ? "post" : "delete"](endpoint.path, endpoint.handler);
  publicEndpoints.forEach(register);
  if (deps.tokens) app.use(requireToken(deps.tokens, publicEndpoints.map((endpoint) => endpoint.path)));
  // Any content type is read as JSON: `curl -d` without a header must work too.
  app.use(express.json({ limit: deps.maxRequestBytes, type: () => true, strict: false }));
  endpoints.forEach(register);
  app.use(notFoundHandler(knownPaths([...publicEndpoints, ...endpoints])));
  app.use(errorHandler(deps.logger));
  return app;
}
