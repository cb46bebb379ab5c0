import { z } from "zod";

const QUANTITY = /^(\d+(?:\.\d+)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const SUFFIX_FACTORS: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * Parses a Kubernetes quantity (`500m`, `1.5`, `128Mi`, `1e3`) into a plain number
 * (cores for CPU, bytes for memory and storage). Returns undefined for anything else.
 */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim() === text ? text : "");
  if (!match) return undefined;
  const [, digits, suffix = ""] = match;
  const base = Number(digits);
  const factor = /^[eE]/.test(suffix) ? 10 ** Number(suffix.slice(1)) : SUFFIX_FACTORS[suffix];
  if (factor === undefined) return undefined;
  const value = base * factor;
  return Number.isFinite(value) ? value : undefined;
}

/** A Kubernetes quantity string, checked with {@link parseQuantity}; must be greater than zero. */
export const QuantitySchema = z
  .string()
  .max(64)
  .refine((text) => (parseQuantity(text) ?? 0) > 0, {
    error: "must be a positive Kubernetes quantity such as 500m, 2, 128Mi or 1Gi",
  });

/** Resource limits of a task; every field is optional. `pids` caps the number of processes. */
export const ResourceLimitsSchema = z.strictObject({
  cpu: QuantitySchema.optional(),
  memory: QuantitySchema.optional(),
  "ephemeral-storage": QuantitySchema.optional(),
  pids: z.number().int().positive().max(4194304).optional(),
});
export type ResourceLimits = z.infer<typeof ResourceLimitsSchema>;

export const ResourcesSchema = z.strictObject({ limits: ResourceLimitsSchema.optional() });
export type Resources = z.infer<typeof ResourcesSchema>;

/** True when the limits need a cgroup of the task's own (cpu, memory or pids; ephemeral storage does not). */
export function needsCgroup(limits: ResourceLimits | undefined): boolean {
  return limits !== undefined && (limits.cpu !== undefined || limits.memory !== undefined || limits.pids !== undefined);
}
