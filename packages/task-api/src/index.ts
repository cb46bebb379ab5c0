/**
 * @org/task-api — the task controller's Kubernetes resources, shared by the controller and the CLI.
 *
 * - Names: API group and version, kinds, the executor label and port annotation, finalizer ({@link TASK_GROUP})
 * - Task: {@link TaskResourceSchema} (spec = task-core's TaskSpec + placement and cancel fields; status)
 * - TaskSchedule: {@link TaskScheduleResourceSchema}, cron checks and times ({@link scheduleProblem}),
 *   deterministic run names ({@link scheduledRunName})
 * - Label selectors: {@link LabelSelectorSchema}, {@link selectorMatches}
 * - Executor-side names: {@link executorTaskName}
 * - CRDs generated from the same schemas: {@link taskCrd}, {@link taskScheduleCrd}, {@link allCrds}
 */
export * from "./names.js";
export * from "./meta.js";
export * from "./selector.js";
export * from "./task.js";
export * from "./cron.js";
export * from "./schedule.js";
export * from "./executor-name.js";
export * from "./crd.js";
export * from "./token-secret.js";
