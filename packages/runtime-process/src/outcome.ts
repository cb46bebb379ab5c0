import { constants } from "node:os";
import { reasonForExitCode, type ExitResult } from "@org/task-core";
import type { ExitFile } from "./files.js";

/** Exit code reported for a timed-out task, as the Go implementation reports it (SIGKILL). */
export const TIMEOUT_EXIT_CODE = 137;

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** Translates what the keeper recorded into the task's outcome. Pure. */
export function outcomeFromExitFile(exit: ExitFile, timeoutSeconds: number, logTruncated: boolean): ExitResult {
  const base = {
    startedAt: exit.startedAt,
    finishedAt: exit.finishedAt,
    ...(logTruncated ? { logTruncated: true } : {}),
  };
  if (exit.startError !== null) {
    return { ...base, exitCode: exit.exitCode, reason: "StartError", message: exit.startError };
  }
  if (exit.timedOut) {
    return {
      ...base,
      exitCode: TIMEOUT_EXIT_CODE,
      reason: "TaskTimeout",
      message: `task exceeded its timeout of ${timeoutSeconds}s and was killed`,
    };
  }
  const signal = exit.signal ?? undefined;
  return {
    ...base,
    exitCode: exit.exitCode,
    ...(signal !== undefined ? { signal, message: `killed by signal ${signal} (${SIGNAL_NAMES.get(signal) ?? "unknown"})` } : {}),
    reason: reasonForExitCode(exit.exitCode),
  };
}

/** Exit code reported when a keeper vanished without recording one. */
export const LOST_EXIT_CODE = 255;
