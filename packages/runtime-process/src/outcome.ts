import { constants } from "node:os";
import { reasonForExitCode, TIMEOUT_EXIT_CODE, type ExitResult } from "@org/task-core";
import type { ExitFile } from "./files.js";

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, number]) => [number, name]));

/** What else the runtime recorded about a run, next to the exit record. */
export interface OutcomeMarkers {
  logTruncated: boolean;
  /** The kernel's OOM killer ended the task (its memory limit). */
  oomKilled: boolean;
  /** The reason the task was evicted (ephemeral storage over its limit), if it was. */
  evicted: string | undefined;
}

/** Translates what the keeper recorded into the task's outcome. Pure. */
export function outcomeFromExitFile(exit: ExitFile, timeoutSeconds: number, markers: OutcomeMarkers): ExitResult {
  const base = {
    startedAt: exit.startedAt,
    finishedAt: exit.finishedAt,
    ...(markers.logTruncated ? { logTruncated: true } : {}),
  };
  if (markers.evicted !== undefined) {
    return { ...base, exitCode: exit.exitCode, ...(exit.signal !== null ? { signal: exit.signal } : {}), reason: "Evicted", message: markers.evicted };
  }
  if (markers.oomKilled) {
    return {
      ...base,
      exitCode: exit.exitCode,
      ...(exit.signal !== null ? { signal: exit.signal } : {}),
      reason: "OOMKilled",
      message: "the task exceeded its memory limit and was killed",
    };
  }
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
