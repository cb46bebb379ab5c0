import { z } from "zod";
import { ContainerSpecSchema, ProcessSpecSchema, TaskSpecSchema, type TaskSpec } from "@org/task-core";
import { ConditionSchema, ObjectMetaSchema } from "./meta.js";
import { TASK_API_VERSION, TASK_KIND } from "./names.js";
import { LabelSelectorSchema } from "./selector.js";

/** The most placements a Task may ask for (`backoffLimit` + 1). */
export const MAX_BACKOFF_LIMIT = 100;

/**
 * A Task's `spec`: the executor's {@link TaskSpec} (`process` or `container`) plus where and how often it
 * may run. `terminated: true` cancels it; `backoffLimit` is how many times it may be placed again after its
 * executor was lost (0: it runs at most once).
 */
export const TaskResourceSpecSchema = z
  .object({
    process: ProcessSpecSchema.optional(),
    container: ContainerSpecSchema.optional(),
    executorSelector: LabelSelectorSchema.optional(),
    terminated: z.boolean().default(false),
    backoffLimit: z.number().int().min(0).max(MAX_BACKOFF_LIMIT).default(0),
  })
  .superRefine((spec, ctx) => {
    const checked = TaskSpecSchema.safeParse(executorSpecOf(spec));
    for (const issue of checked.success ? [] : checked.error.issues) {
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
    }
  });
export type TaskResourceSpec = z.infer<typeof TaskResourceSpecSchema>;

/** The part of a Task's spec the executor runs. */
export function executorSpecOf(spec: Pick<TaskResourceSpec, "process" | "container">): TaskSpec {
  return {
    ...(spec.process !== undefined ? { process: spec.process } : {}),
    ...(spec.container !== undefined ? { container: spec.container } : {}),
  };
}

export const TaskPhases = ["Pending", "Scheduled", "Running", "Succeeded", "Failed", "Cancelled"] as const;
export type TaskResourcePhase = (typeof TaskPhases)[number];
export const FINISHED_PHASES: readonly TaskResourcePhase[] = ["Succeeded", "Failed", "Cancelled"];

/** True for `Succeeded`, `Failed` and `Cancelled`: the Task will not change any more. */
export function isFinishedPhase(phase: string | undefined): boolean {
  return FINISHED_PHASES.includes(phase as TaskResourcePhase);
}

/** Where a Task was placed: the executor pod and the task's name there. */
export const ExecutorPlacementSchema = z.object({
  pod: z.string(),
  namespace: z.string().optional().describe("the executor pod's namespace (the Task's own unless --executor-namespace)"),
  podUID: z.string().optional(),
  node: z.string().optional(),
  address: z.string().describe("IP:PORT of the executor API"),
  taskName: z.string().describe("the task's name on the executor"),
  acceptedTime: z.string().optional().describe("when the executor first listed the task"),
});
export type ExecutorPlacement = z.infer<typeof ExecutorPlacementSchema>;

export const TaskResourceStatusSchema = z.object({
  phase: z.enum(TaskPhases).optional(),
  exitCode: z.number().int().optional(),
  signal: z.number().int().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  executor: ExecutorPlacementSchema.optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  duration: z.string().optional().describe("run time at completion, such as 12s"),
  attempts: z.number().int().min(0).optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(ConditionSchema).optional(),
});
export type TaskResourceStatus = z.infer<typeof TaskResourceStatusSchema>;

export const TaskResourceSchema = z.object({
  apiVersion: z.literal(TASK_API_VERSION),
  kind: z.literal(TASK_KIND),
  metadata: ObjectMetaSchema,
  spec: TaskResourceSpecSchema,
  status: TaskResourceStatusSchema.optional(),
});
export type TaskResource = z.infer<typeof TaskResourceSchema>;

/** The condition type that tells whether a Task succeeded (`Unknown` while it runs). */
export const SUCCEEDED_CONDITION = "Succeeded";
