import { CANCELLED_EXIT_CODE, type ExitResult, type TaskState } from "@org/task-core";

/**
 * The terminated state for a runtime's outcome. Once a stop was requested, any end counts as `Cancelled`
 * (the runtime cannot tell a task that happened to finish from one the stop ended); the exit code stays the
 * process's own, and a zero becomes 143 because a cancelled task must not read as a success.
 */
export function terminatedFromOutcome(result: ExitResult, cancelRequested: boolean): TaskState {
  if (cancelRequested && result.reason !== "StartError") {
    return {
      terminated: {
        exitCode: result.exitCode === 0 ? CANCELLED_EXIT_CODE : result.exitCode,
        ...(result.signal !== undefined ? { signal: result.signal } : {}),
        reason: "Cancelled",
        message: "task was stopped on request",
        ...(result.startedAt ? { startedAt: result.startedAt } : {}),
        finishedAt: result.finishedAt,
      },
    };
  }
  return {
    terminated: {
      exitCode: result.exitCode,
      ...(result.signal !== undefined ? { signal: result.signal } : {}),
      reason: result.reason,
      ...(result.message ? { message: result.message } : {}),
      ...(result.startedAt ? { startedAt: result.startedAt } : {}),
      finishedAt: result.finishedAt,
    },
  };
}

/** The terminated state of a task cancelled before it ever started: no `startedAt`. */
export function cancelledBeforeStart(now: Date): TaskState {
  return {
    terminated: {
      exitCode: CANCELLED_EXIT_CODE,
      reason: "Cancelled",
      message: "task was stopped before it started",
      finishedAt: now.toISOString(),
    },
  };
}

/** The terminated state of a task that could not be started at all. */
export function failedToStart(reason: string, message: string, exitCode: number, now: Date): TaskState {
  return { terminated: { exitCode, reason, message, finishedAt: now.toISOString() } };
}

/**
 * Which waiting tasks may start now: first come, first served, up to the concurrency limit (0 = unlimited).
 * Pure: given the number running and the waiting tasks' sequence numbers, returns the ones to start.
 */
export function tasksToStart<T extends { sequence: number }>(waiting: T[], runningCount: number, limit: number): T[] {
  const ordered = [...waiting].sort((a, b) => a.sequence - b.sequence);
  if (limit <= 0) return ordered;
  return ordered.slice(0, Math.max(0, limit - runningCount));
}
