import { z } from "zod";
import { LabelsSchema, TaskNameSchema, TaskSpecSchema, TaskStateSchema } from "@org/task-core";

/** Who created a task: `api` (POST /tasks) or `sync` (POST /setTasks, owned by the caller's desired set). */
export const TaskOriginSchema = z.enum(["api", "sync"]);
export type TaskOrigin = z.infer<typeof TaskOriginSchema>;

/** Everything the executor persists about one task, in `<data-dir>/<name>/task.json`. */
export const TaskRecordSchema = z.object({
  version: z.literal(1),
  name: TaskNameSchema,
  labels: LabelsSchema.optional(),
  spec: TaskSpecSchema,
  legacyShape: z.boolean(),
  origin: TaskOriginSchema,
  /** Which runtime runs the task (`process`, `sidecar`, `container`). */
  runtime: z.string(),
  creationTimestamp: z.string(),
  /** Arrival order, to start queued tasks first come, first served. */
  sequence: z.number().int().nonnegative(),
  deletionTimestamp: z.string().optional(),
  /** Why the task is being deleted, reported in its `deleted` event. */
  deletionReason: z.string().optional(),
  /** Set by POST /tasks/{name}/stop: the task ends `Cancelled`. */
  cancelRequested: z.boolean().optional(),
  state: TaskStateSchema,
  logTruncated: z.boolean().optional(),
  handle: z.object({ runtime: z.string() }).catchall(z.unknown()).optional(),
});
export type TaskRecord = z.infer<typeof TaskRecordSchema>;
