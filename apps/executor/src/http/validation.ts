import { z } from "zod";
import { ApiError, invalidRequest, TaskNameSchema } from "@org/task-core";

/** Parses a value with a schema or throws the 400 that names the offending field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidRequest(result.error, what);
  return result.data;
}

/** The `{name}` path parameter, validated like a task name. */
export function taskNameParam(value: unknown): string {
  const result = TaskNameSchema.safeParse(value);
  if (!result.success) {
    throw new ApiError("InvalidRequest", `invalid task name in path: ${result.error.issues[0]?.message ?? "invalid"}`, [
      { path: "name", message: result.error.issues[0]?.message ?? "invalid" },
    ]);
  }
  return result.data;
}

/** A query flag `true`/`false`. */
export const QueryBoolean = z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1");

/** A whole number in a query string. */
export const QueryWholeNumber = z
  .string()
  .regex(/^\d{1,12}$/, { error: "must be a whole number >= 0" })
  .transform(Number);
