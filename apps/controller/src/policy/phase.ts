import type { TaskState } from "@org/task-core";
import {
  SUCCEEDED_CONDITION,
  isFinishedPhase,
  sameStatus,
  withCondition,
  type TaskResourcePhase,
  type TaskResourceStatus,
} from "@org/task-api";

/** What a Task's status says about the run, as read from its executor's state. */
export interface ObservedRun {
  phase: TaskResourcePhase;
  exitCode?: number;
  signal?: number;
  reason?: string;
  message?: string;
  startTime?: string;
  completionTime?: string;
}

/**
 * The Task phase of an executor state: `waiting` (Initialized or Queued) is `Scheduled`, `running` is
 * `Running`, `terminated` is `Succeeded` (exit 0 and reason Succeeded), `Cancelled`, or `Failed` for
 * everything else (`Lost`, `StartError`, `TaskTimeout`, `OOMKilled`, ...), with the executor's reason kept.
 */
export function observedRunOf(state: TaskState): ObservedRun {
  if ("waiting" in state) {
    return { phase: "Scheduled", reason: state.waiting.reason, ...(state.waiting.message ? { message: state.waiting.message } : {}) };
  }
  if ("running" in state) return { phase: "Running", startTime: state.running.startedAt };
  const ended = state.terminated;
  const phase: TaskResourcePhase =
    ended.reason === "Cancelled" ? "Cancelled" : ended.reason === "Succeeded" && ended.exitCode === 0 ? "Succeeded" : "Failed";
  return {
    phase,
    exitCode: ended.exitCode,
    ...(ended.signal !== undefined ? { signal: ended.signal } : {}),
    reason: ended.reason,
    ...(ended.message ? { message: ended.message } : {}),
    ...(ended.startedAt ? { startTime: ended.startedAt } : {}),
    completionTime: ended.finishedAt,
  };
}

/** `12s`, `3m4s`, `1h2m`, `450ms`: a run's length as `kubectl get` shows durations. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60 ? `${seconds % 60}s` : ""}`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60 ? `${minutes % 60}m` : ""}`;
  return `${Math.floor(hours / 24)}d${hours % 24 ? `${hours % 24}h` : ""}`;
}

const PHASE_ORDER: Record<TaskResourcePhase, number> = {
  Pending: 0,
  Scheduled: 1,
  Running: 2,
  Succeeded: 3,
  Failed: 3,
  Cancelled: 3,
};

/**
 * The status after observing `run`, or undefined when nothing changes. A finished Task never changes; a
 * Task never moves back (a stale `waiting` after `Running` is ignored). Sets `duration` and the `Succeeded`
 * condition (`Unknown` until the end, then `True` or `False` with the reason).
 */
export function statusAfter(current: TaskResourceStatus, run: ObservedRun, now: Date): TaskResourceStatus | undefined {
  if (isFinishedPhase(current.phase)) return undefined;
  if (current.phase !== undefined && PHASE_ORDER[run.phase] < PHASE_ORDER[current.phase]) return undefined;
  const finished = isFinishedPhase(run.phase);
  const startTime = run.startTime ?? current.startTime;
  const completionTime = finished ? (run.completionTime ?? now.toISOString()) : undefined;
  const next: TaskResourceStatus = {
    ...withoutOutcome(current),
    phase: run.phase,
    ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
    ...(run.signal !== undefined ? { signal: run.signal } : {}),
    ...(run.reason !== undefined ? { reason: run.reason } : {}),
    ...(run.message !== undefined ? { message: run.message } : {}),
    ...(startTime !== undefined ? { startTime } : {}),
    ...(completionTime !== undefined ? { completionTime } : {}),
    ...(completionTime !== undefined && startTime !== undefined
      ? { duration: formatDuration(Date.parse(completionTime) - Date.parse(startTime)) }
      : {}),
  };
  next.conditions = withCondition(current.conditions, succeededCondition(run, now));
  return sameStatus(current, next) ? undefined : next;
}

/** The status of a Task that ends without a run the executor reported (`ExecutorLost`, `Cancelled` before placement). */
export function endedWithout(current: TaskResourceStatus, phase: "Failed" | "Cancelled", reason: string, message: string, now: Date): TaskResourceStatus {
  if (isFinishedPhase(current.phase)) return current;
  const completionTime = now.toISOString();
  return {
    ...withoutOutcome(current),
    phase,
    reason,
    message,
    ...(current.startTime ? { startTime: current.startTime, duration: formatDuration(now.getTime() - Date.parse(current.startTime)) } : {}),
    completionTime,
    conditions: withCondition(current.conditions, succeededCondition({ phase, reason, message }, now)),
  };
}

function succeededCondition(run: Pick<ObservedRun, "phase" | "reason" | "message">, now: Date) {
  const status = run.phase === "Succeeded" ? "True" : isFinishedPhase(run.phase) ? "False" : "Unknown";
  return {
    type: SUCCEEDED_CONDITION,
    status,
    reason: run.reason ?? run.phase,
    ...(run.message ? { message: run.message } : {}),
    lastTransitionTime: now.toISOString(),
  } as const;
}

function withoutOutcome(status: TaskResourceStatus): TaskResourceStatus {
  const { exitCode: _exit, signal: _signal, reason: _reason, message: _message, completionTime: _end, duration: _duration, ...rest } = status;
  return rest;
}
