import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { LabelsSchema } from "@org/task-core";

/** The parts of Kubernetes object metadata the controller and the CLI read; everything else passes through. */
export const ObjectMetaSchema = z.looseObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  labels: LabelsSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z
    .array(
      z.looseObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

export const ConditionStatuses = ["True", "False", "Unknown"] as const;

/** A status condition, as Kubernetes' `metav1.Condition`. */
export const ConditionSchema = z.object({
  type: z.string().min(1),
  status: z.enum(ConditionStatuses),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().describe("RFC 3339 time"),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof ConditionSchema>;

/** A reference to an object of the same namespace (TaskSchedule `status.active`). */
export const ObjectReferenceSchema = z.object({
  name: z.string(),
  uid: z.string().optional(),
});
export type ObjectReference = z.infer<typeof ObjectReferenceSchema>;

/**
 * Sets condition `next` in `conditions`, keeping `lastTransitionTime` when the status did not change.
 * Pure: returns a new array.
 */
export function withCondition(conditions: readonly Condition[] | undefined, next: Condition): Condition[] {
  const others = (conditions ?? []).filter((condition) => condition.type !== next.type);
  const previous = (conditions ?? []).find((condition) => condition.type === next.type);
  const lastTransitionTime = previous && previous.status === next.status ? previous.lastTransitionTime : next.lastTransitionTime;
  return [...others, { ...next, lastTransitionTime }];
}

/**
 * Whether two statuses say the same, ignoring the conditions' `lastTransitionTime` (which `withCondition` keeps
 * anyway): a reconcile writes a status only when this is false, so an unchanged object costs no API write.
 */
export function sameStatus<T extends { conditions?: readonly Condition[] | undefined }>(a: T, b: T): boolean {
  const strip = (status: T) => ({
    ...status,
    conditions: (status.conditions ?? []).map(({ lastTransitionTime: _time, ...condition }) => condition),
  });
  return isDeepStrictEqual(strip(a), strip(b));
}
