import { z } from "zod";
import { createDocument, type ZodOpenApiObject, type ZodOpenApiOperationObject } from "zod-openapi";
import { ApiErrorBodySchema, EXECUTOR_TOKEN_HEADER, HealthReplySchema, TaskEventSchema, TaskNameSchema, TaskRequestSchema, TaskSchema, TaskSetRequestSchema } from "@org/task-core";
import { LogsQuerySchema } from "./logs-route.js";
import { ReadyReplySchema } from "./readiness.js";
import { GetTaskQuery } from "./tasks-routes.js";
import { EXECUTOR_VERSION } from "../version.js";


const json = (schema: z.ZodType, examples?: Record<string, unknown>) => ({
  "application/json": {
    schema,
    ...(examples ? { examples: Object.fromEntries(Object.entries(examples).map(([name, value]) => [name, { value }])) } : {}),
  },
});
const error = (description: string) => ({ description, content: json(ApiErrorBodySchema) });
const errors = {
  "400": error("InvalidJSON or InvalidRequest; `details` names each bad field"),
  "401": error("Unauthorized: a missing or wrong token, as bearer or X-Executor-Token (with --auth-token-file)"),
};
const nameParam = { path: z.object({ name: TaskNameSchema.meta({ description: "the task's name" }) }) };
/**
 * Every endpoint but the public ones needs a token when the executor runs with --auth-token-file: as bearer, or
 * in X-Executor-Token (which the Kubernetes API server's pod proxy forwards; it removes Authorization).
 */
const tokenIfEnabled: ZodOpenApiOperationObject["security"] = [{ bearerAuth: [] }, { executorToken: [] }, {}];
const publicEndpoint: ZodOpenApiOperationObject["security"] = [];

const guideTask = {
  name: "my-first-task",
  spec: { process: { command: ["sh", "-c"], args: ["echo hello && sleep 5 && echo done"] } },
};
const guideSet = [
  { name: "task-alpha", spec: { process: { command: ["sleep", "10"] } } },
  { name: "task-beta", spec: { process: { command: ["ls", "-l", "/tmp"] } } },
];

/** Each operation by path (OpenAPI `{name}` form) and method; the tests check it matches the registered routes. */
const paths: ZodOpenApiObject["paths"] = {
  "/tasks": {
    post: {
      operationId: "createTask",
      summary: "Create and start a task",
      security: tokenIfEnabled,
      requestBody: { required: true, content: json(TaskRequestSchema, { guide: guideTask, legacy: { name: "legacy-task", process: { command: ["true"], timeoutSeconds: 60 } } }) },
      responses: {
        "201": { description: "the task, `waiting/Initialized`", content: json(TaskSchema) },
        ...errors,
        "409": error("AlreadyExists: a task of this name exists"),
        "413": error("PayloadTooLarge: body over --max-request-bytes"),
        "507": error("InsufficientStorage: the data dir is full"),
      },
    },
  },
  "/tasks/{name}": {
    get: {
      operationId: "getTask",
      summary: "One task; with waitFor=terminated, long-polls until it ends or timeoutSeconds pass",
      security: tokenIfEnabled,
      requestParams: { ...nameParam, query: GetTaskQuery },
      responses: { "200": { description: "the task", content: json(TaskSchema) }, ...errors, "404": error("NotFound: no such task") },
    },
    delete: {
      operationId: "deleteTask",
      summary: "Stop gracefully in the background, then remove the task, its state and its logs",
      security: tokenIfEnabled,
      requestParams: nameParam,
      responses: { "204": { description: "deletion started; the task is listed with deletionTimestamp until gone" }, ...errors, "404": error("NotFound: no such task") },
    },
  },
  "/tasks/{name}/stop": {
    post: {
      operationId: "stopTask",
      summary: "Cancel and keep: the task ends terminated, reason Cancelled",
      security: tokenIfEnabled,
      requestParams: nameParam,
      responses: { "200": { description: "the task", content: json(TaskSchema) }, ...errors, "404": error("NotFound: no such task") },
    },
  },
  "/tasks/{name}/logs": {
    get: {
      operationId: "getTaskLogs",
      summary: "The task's output as plain bytes; follow=true streams until the task ends",
      security: tokenIfEnabled,
      requestParams: { ...nameParam, query: LogsQuerySchema },
      responses: { "200": { description: "the output, byte for byte", content: { "text/plain": { schema: z.string() } } }, ...errors, "404": error("NotFound: no such task") },
    },
  },
  "/setTasks": {
    post: {
      operationId: "setTasks",
      summary: "Make the managed set equal this array: missing tasks are stopped and removed, new ones created",
      security: tokenIfEnabled,
      requestBody: { required: true, content: json(TaskSetRequestSchema, { guide: guideSet }) },
      responses: { "200": { description: "all tasks now managed", content: json(z.array(TaskSchema)) }, ...errors, "413": error("PayloadTooLarge: body over --max-request-bytes") },
    },
  },
  "/getTasks": {
    get: {
      operationId: "listTasks",
      summary: "All tasks",
      security: tokenIfEnabled,
      responses: { "200": { description: "every managed task", content: json(z.array(TaskSchema)) }, "401": errors["401"] },
    },
  },
  "/events": {
    get: {
      operationId: "streamEvents",
      summary: "Server-Sent Events of task changes; each `data:` line is one TaskEvent; resume with Last-Event-ID",
      security: tokenIfEnabled,
      responses: { "200": { description: "an event stream", content: { "text/event-stream": { schema: TaskEventSchema } } }, "401": errors["401"] },
    },
  },
  "/metrics": {
    get: {
      operationId: "metrics",
      summary: "Prometheus metrics (text exposition format)",
      security: tokenIfEnabled,
      responses: { "200": { description: "the metrics", content: { "text/plain": { schema: z.string() } } }, "401": errors["401"] },
    },
  },
  "/health": {
    get: {
      operationId: "health",
      summary: "Liveness, auth, the modes this executor runs and whether it is a sidecar (no token needed)",
      security: publicEndpoint,
      responses: { "200": { description: "healthy", content: json(HealthReplySchema) } },
    },
  },
  "/ready": {
    get: {
      operationId: "ready",
      summary: "Readiness: the data dir takes writes and every enabled runtime answers (no token needed)",
      security: publicEndpoint,
      responses: {
        "200": { description: "ready, with each check", content: json(ReadyReplySchema) },
        "503": { description: "unready; `reasons` names each failed check", content: json(ReadyReplySchema) },
      },
    },
  },
  "/openapi.json": {
    get: {
      operationId: "openapi",
      summary: "This document (no token needed)",
      security: publicEndpoint,
      responses: { "200": { description: "the OpenAPI 3.1 document", content: { "application/json": { schema: z.object({ openapi: z.string() }).passthrough() } } } },
    },
  },
};

let built: ReturnType<typeof createDocument> | undefined;

/** The executor's OpenAPI 3.1 document, generated from the task-core zod schemas (once; it never changes at run time). */
export function openApiDocument(): ReturnType<typeof createDocument> {
  built ??= createDocument({
    openapi: "3.1.0",
    info: { title: "task-executor", version: EXECUTOR_VERSION, description: "The HTTP API of one task executor. All bodies are JSON unless stated." },
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: "http", scheme: "bearer", description: "a token from --auth-token-file" },
        executorToken: {
          type: "apiKey",
          in: "header",
          name: EXECUTOR_TOKEN_HEADER,
          description: "the same token in a header of its own, for clients behind a proxy that removes Authorization (the Kubernetes API server's pod proxy)",
        },
      },
    },
  });
  return built;
}
