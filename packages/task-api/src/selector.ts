import { z } from "zod";
import { LabelKeySchema, LabelValueSchema, LabelsSchema } from "@org/task-core";

export const LabelSelectorRequirementSchema = z.object({
  key: LabelKeySchema,
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: z.array(LabelValueSchema).optional(),
});
export type LabelSelectorRequirement = z.infer<typeof LabelSelectorRequirementSchema>;

/** A Kubernetes label selector (`matchLabels` and `matchExpressions`, all of which must hold). */
export const LabelSelectorSchema = z.object({
  matchLabels: LabelsSchema.optional(),
  matchExpressions: z.array(LabelSelectorRequirementSchema).optional(),
});
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

function requirementHolds(requirement: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, requirement.key);
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return has && values.includes(labels[requirement.key]!);
    case "NotIn":
      return !has || !values.includes(labels[requirement.key]!);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
  }
}

/** True when `labels` satisfy `selector`; an absent or empty selector matches everything. */
export function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  const actual = labels ?? {};
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {})) {
    if (actual[key] !== value) return false;
  }
  return (selector?.matchExpressions ?? []).every((requirement) => requirementHolds(requirement, actual));
}
