import { z } from "zod";
import { LabelsSchema } from "@org/task-core";
import { scheduleProblem } from "./cron.js";
import { ConditionSchema, ObjectMetaSchema, ObjectReferenceSchema } from "./meta.js";
import { TASK_API_VERSION, TASK_SCHEDULE_KIND } from "./names.js";
import { TaskResourceSpecSchema } from "./task.js";

/** What a TaskSchedule does when a run is due while an earlier one is still active (the platform's words). */
export const ConcurrencyPolicies = ["Always", "Forbid", "Replace"] as const;
export type ConcurrencyPolicy = (typeof ConcurrencyPolicies)[number];

export const TaskTemplateSchema = z.object({
  metadata: z.object({ labels: LabelsSchema.optional() }).optional(),
  spec: TaskResourceSpecSchema,
});
export type TaskTemplate = z.infer<typeof TaskTemplateSchema>;

export const TaskScheduleSpecSchema = z
  .object({
    schedule: z.string().min(1).max(256),
    timeZone: z.string().min(1).max(128).default("UTC"),
    concurrencyPolicy: z.enum(ConcurrencyPolicies).default("Always"),
    suspend: z.boolean().default(false),
    startingDeadlineSeconds: z.number().int().min(1).optional(),
    taskTemplate: TaskTemplateSchema,
  })
  .superRefine((spec, ctx) => {
    const problem = scheduleProblem(spec.schedule, spec.timeZone);
    if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["schedule"] });
  });
export type TaskScheduleSpec = z.infer<typeof TaskScheduleSpecSchema>;

export const TaskScheduleStatusSchema = z.object({
  active: z.array(ObjectReferenceSchema).optional(),
  lastScheduleTime: z.string().optional(),
  lastSuccessfulTime: z.string().optional(),
  observedGeneration: z.number().int().optional(),
  conditions: z.array(ConditionSchema).optional(),
});
export type TaskScheduleStatus = z.infer<typeof TaskScheduleStatusSchema>;

export const TaskScheduleResourceSchema = z.object({
  apiVersion: z.literal(TASK_API_VERSION),
  kind: z.literal(TASK_SCHEDULE_KIND),
  metadata: ObjectMetaSchema,
  spec: TaskScheduleSpecSchema,
  status: TaskScheduleStatusSchema.optional(),
});
export type TaskScheduleResource = z.infer<typeof TaskScheduleResourceSchema>;

/** The name of the run of `scheduleName` due at `scheduledMs`: the same for every controller, so a run is created once. */
export function scheduledRunName(scheduleName: string, scheduledMs: number): string {
  return `${scheduleName}-${Math.floor(scheduledMs / 1000)}`;
}
