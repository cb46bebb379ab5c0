import { z } from "zod";

/** Why a task waits: created and not started yet, or held back by the concurrency limit. */
export const WaitingReasons = ["Initialized", "Queued"] as const;

/**
 * Why a task ended. `Succeeded`/`Failed` come from the exit code; the rest name what ended it.
 */
export const TerminatedReasons = [
  "Succeeded",
  "Failed",
  "TaskTimeout",
  "StartError",
  "Cancelled",
  "OOMKilled",
  "Evicted",
  "MainContainerNotFound",
  "ErrImagePull",
  "ContainerMissing",
  "Lost",
] as const;
export type TerminatedReason = (typeof TerminatedReasons)[number];

const Timestamp = z.string().describe("RFC 3339 time");

export const WaitingStateSchema = z.object({
  reason: z.string(),
  message: z.string().optional(),
});
export const RunningStateSchema = z.object({ startedAt: Timestamp });
export const TerminatedStateSchema = z.object({
  exitCode: z.number().int(),
  signal: z.number().int().optional(),
  reason: z.string(),
  message: z.string().optional(),
  startedAt: Timestamp.optional(),
  finishedAt: Timestamp,
});
export type WaitingState = z.infer<typeof WaitingStateSchema>;
export type RunningState = z.infer<typeof RunningStateSchema>;
export type TerminatedState = z.infer<typeof TerminatedStateSchema>;

/** Exactly one of waiting, running or terminated, as in the executor guide. */
export const TaskStateSchema = z.union([
  z.object({ waiting: WaitingStateSchema }),
  z.object({ running: RunningStateSchema }),
  z.object({ terminated: TerminatedStateSchema }),
]);
export type TaskState = z.infer<typeof TaskStateSchema>;

export const TaskStatusSchema = z.object({
  state: TaskStateSchema,
  /** True once the task's log was capped and its oldest output dropped. */
  logTruncated: z.boolean().optional(),
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export type TaskPhase = "waiting" | "running" | "terminated";

/** Which of the three states a task is in. */
export function phaseOf(state: TaskState): TaskPhase {
  if ("terminated" in state) return "terminated";
  if ("running" in state) return "running";
  return "waiting";
}

/** True when the task has ended and will not change any more. */
export function isTerminal(state: TaskState): state is { terminated: TerminatedState } {
  return "terminated" in state;
}

export function waiting(reason: (typeof WaitingReasons)[number], message?: string): TaskState {
  return { waiting: message === undefined ? { reason } : { reason, message } };
}

export function running(startedAt: string): TaskState {
  return { running: { startedAt } };
}

/** Exit code of a task killed for its timeout, as the Go implementation reports it (128 + SIGKILL). */
export const TIMEOUT_EXIT_CODE = 137;
/** Exit code of a task cancelled before its process reported one (128 + SIGTERM). */
export const CANCELLED_EXIT_CODE = 143;
/** Exit code of a task whose outcome was lost (its keeper or container vanished without one). */
export const LOST_EXIT_CODE = 255;

/** Reason for a plain exit: `Succeeded` for 0, else `Failed`. */
export function reasonForExitCode(exitCode: number): TerminatedReason {
  return exitCode === 0 ? "Succeeded" : "Failed";
}
