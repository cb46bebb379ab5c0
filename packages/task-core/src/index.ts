/**
 * @org/task-core — the task executor's model and contracts.
 *
 * - Names and labels: {@link TaskNameSchema}, {@link LabelsSchema}
 * - What to run: {@link TaskSpecSchema} (process | container), resource quantities
 * - How it is going: {@link TaskStatusSchema} (waiting | running | terminated) and state helpers
 * - The wire objects: {@link TaskSchema}, {@link TaskRequestSchema}, {@link TaskSetRequestSchema}, events
 * - `GET /health`: {@link HealthReplySchema} (auth, modes, sidecar)
 * - Errors: {@link ApiError} and its codes
 * - Runtimes: the {@link TaskRuntime} interface every runtime implements
 * - Clients: {@link ExecutorClient}, the typed HTTP client of the executor API
 * - Flag values the apps share: {@link parseDuration}, {@link parseListenAddress}
 */
export * from "./names.js";
export * from "./quantity.js";
export * from "./spec.js";
export * from "./status.js";
export * from "./task.js";
export * from "./events.js";
export * from "./health.js";
export * from "./errors.js";
export * from "./runtime.js";
export * from "./client.js";
export * from "./logger.js";
export * from "./units.js";
