import { z } from "zod";
import { LabelsSchema, TaskNameSchema } from "./names.js";
import { ProcessSpecSchema, TaskSpecSchema, type ProcessSpec, type TaskSpec } from "./spec.js";
import { TaskStateSchema, TaskStatusSchema, type TaskState } from "./status.js";

/**
 * A task as the executor reports it (the guide's shape). Tasks created in the legacy wire shape
 * (process at the top level) also carry `process` and `processStatus`, so older clients keep working.
 */
export const TaskSchema = z.object({
  name: TaskNameSchema,
  labels: LabelsSchema.optional(),
  spec: TaskSpecSchema,
  status: TaskStatusSchema,
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  process: ProcessSpecSchema.optional(),
  processStatus: TaskStateSchema.optional(),
}).meta({ id: "Task" }); // the id names the schema's component in the executor's OpenAPI document
export type Task = z.infer<typeof TaskSchema>;

/**
 * What a client sends to create a task: `{name, labels?, spec}`, or the legacy shape
 * `{name, process}` where `process` holds the process spec (with `timeoutSeconds` inside).
 * Fields the executor fills in (`status`, timestamps) are ignored, so a task read back can be sent again.
 */
export const TaskRequestSchema = z
  .object({
    name: TaskNameSchema,
    labels: LabelsSchema.optional(),
    spec: TaskSpecSchema.optional(),
    process: ProcessSpecSchema.optional(),
  })
  .superRefine((request, ctx) => {
    if (request.spec === undefined && request.process === undefined) {
      ctx.addIssue({ code: "custom", path: ["spec"], message: "spec is required (or 'process' in the legacy shape)" });
    }
    if (request.spec !== undefined && request.process !== undefined && request.spec.process === undefined) {
      ctx.addIssue({ code: "custom", path: ["process"], message: "send either 'spec' or the legacy 'process', not both" });
    }
  })
  .transform((request): TaskRequest => {
    const legacy = request.spec === undefined;
    const spec: TaskSpec = request.spec ?? { process: request.process as ProcessSpec };
    return {
      name: request.name,
      ...(request.labels ? { labels: request.labels } : {}),
      spec,
      legacyShape: legacy,
    };
  })
  .meta({ id: "TaskRequest" });

/** A validated create request, normalised to the `spec` shape. */
export interface TaskRequest {
  name: string;
  labels?: Record<string, string>;
  spec: TaskSpec;
  /** True when the client used the legacy top-level `process` shape; replies then include it too. */
  legacyShape: boolean;
}

/** The body of `POST /setTasks`: the complete desired set, names unique. */
export const TaskSetRequestSchema = z
  .array(TaskRequestSchema)
  .max(10_000, { error: "at most 10000 tasks per request" })
  .superRefine((tasks, ctx) => {
    const seen = new Map<string, number>();
    tasks.forEach((task, index) => {
      const first = seen.get(task.name);
      if (first !== undefined) {
        ctx.addIssue({ code: "custom", path: [index, "name"], message: `duplicate name '${task.name}' (also at index ${first})` });
      } else {
        seen.set(task.name, index);
      }
    });
  });

/** Builds the reply shape of a task, adding the legacy fields when the task was created that way. */
export function toWireTask(task: Omit<Task, "process" | "processStatus">, legacyShape: boolean): Task {
  if (!legacyShape || task.spec.process === undefined) return task;
  const processStatus: TaskState = task.status.state;
  return { ...task, process: task.spec.process, processStatus };
}
