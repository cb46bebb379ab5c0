import { nextScheduleTime, previousScheduleTime, type ConcurrencyPolicy } from "@org/task-api";

export interface ScheduleFacts {
  schedule: string;
  timeZone: string;
  concurrencyPolicy: ConcurrencyPolicy;
  suspend: boolean;
  startingDeadlineSeconds?: number;
  /** The last scheduled time a run was created for (status.lastScheduleTime), else undefined. */
  lastScheduleMs?: number;
  /** When the schedule was created: no run is due before it. */
  createdMs: number;
  /** Runs of this schedule that have not finished. */
  activeRuns: number;
  nowMs: number;
}

export type ScheduleAction =
  /** Create the run of `scheduledMs` (and, with `Replace`, cancel the active ones first). */
  | { kind: "run"; scheduledMs: number; replaceActive: boolean; requeueAfterMs?: number }
  /** `Forbid` and a run is active: this run waits, as a CronJob's does, and fires when the active one ends if still due. */
  | { kind: "forbidden"; scheduledMs: number; requeueAfterMs?: number }
  /** Nothing is due now. */
  | { kind: "wait"; requeueAfterMs?: number };

/**
 * What a TaskSchedule should do now. Only the most recent missed run fires (and only within
 * `startingDeadlineSeconds` of its time when set); a suspended schedule does nothing, and on resume its most
 * recent missed run fires. `requeueAfterMs` is the time until the next scheduled time. Pure.
 */
export function decideSchedule(facts: ScheduleFacts): ScheduleAction {
  const next = nextScheduleTime(facts.schedule, facts.timeZone, facts.nowMs);
  const requeue = next === undefined ? {} : { requeueAfterMs: Math.max(0, next - facts.nowMs) };
  if (facts.suspend) return { kind: "wait", ...requeue };
  const due = previousScheduleTime(facts.schedule, facts.timeZone, facts.nowMs);
  const after = facts.lastScheduleMs ?? facts.createdMs;
  if (due === undefined || due <= after) return { kind: "wait", ...requeue };
  if (facts.startingDeadlineSeconds !== undefined && facts.nowMs - due > facts.startingDeadlineSeconds * 1000) {
    return { kind: "wait", ...requeue };
  }
  if (facts.activeRuns > 0 && facts.concurrencyPolicy === "Forbid") return { kind: "forbidden", scheduledMs: due, ...requeue };
  return { kind: "run", scheduledMs: due, replaceActive: facts.concurrencyPolicy === "Replace" && facts.activeRuns > 0, ...requeue };
}
