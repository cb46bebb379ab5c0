import { CANCELLED_EXIT_CODE, lostOutcome, type ExitResult, type TaskState } from "@org/task-core";

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

/** The terminated state of a task whose keeper or container vanished, or that cannot be recovered: `Lost`, 255. */
export function lost(message: string, now: Date): TaskState {
  return terminatedFromOutcome(lostOutcome(message, { now }), false);
}

/** What the lifecycle needs to know of a task: its record's state and what is in flight for it. */
export interface Lifecycle {
  state: TaskState;
  /** Its first record is on disk (nothing may start it before). */
  persisted: boolean;
  /** A start was handed to the runtime and has not returned. */
  starting: boolean;
  /** A runtime `wait` is attached. */
  watching: boolean;
  /** A runtime handle is known (it was started, or adopted). */
  hasHandle: boolean;
  cancelRequested: boolean;
  deleting: boolean;
}

/** Everything that happens to a task. */
export type LifecycleEvent =
  | { type: "persisted" }
  /** The scheduler has a slot for it. */
  | { type: "slotGranted" }
  /** The scheduler has no slot for it. */
  | { type: "slotDenied" }
  | { type: "started"; startedAt: string }
  | { type: "startFailed"; reason: string; message: string; exitCode: number; now: Date }
  /** The runtime gave the start up on request (a stop or delete while starting): nothing of the task runs. */
  | { type: "startCancelled"; now: Date }
  | { type: "exited"; result: ExitResult }
  | { type: "waitFailed" }
  | { type: "stopRequested"; now: Date }
  | { type: "deleteRequested"; reason: string; now: Date }
  /** After a restart the runtime returned a handle: the task runs (or ran) there. */
  | { type: "recovered"; startedAt: string }
  /** After a restart the runtime has no trace of the task. */
  | { type: "recoveredNothing"; now: Date }
  | { type: "recoveryFailed"; message: string; now: Date };

/** What the manager carries out, in order. */
export type Effect =
  /** Write the record; `durable`: before the change counts (a client's request, refused when the write fails). */
  | { type: "persist"; durable: boolean }
  | { type: "publish"; event: "created" | "started" | "terminated" }
  | { type: "startRuntime" }
  /** Ask the runtime to give up a start in flight (it answers with `startCancelled`, or `started` if too late). */
  | { type: "cancelStart" }
  | { type: "watch" }
  | { type: "stopRuntime" }
  | { type: "runDeletion" }
  /** Wake whoever waits for the task's end. */
  | { type: "ended" }
  /** Let the scheduler look again. */
  | { type: "schedule" }
  /** Tell retention a task finished. */
  | { type: "finished" }
  | { type: "warnLost"; message: string };

/** The next lifecycle, the record fields that change, and the effects; `changes` are applied to the record. */
export interface Transition {
  lifecycle: Lifecycle;
  changes: Partial<{ state: TaskState; cancelRequested: boolean; deletionTimestamp: string; deletionReason: string; logTruncated: boolean }>;
  effects: Effect[];
}

const phase = (state: TaskState) => ("terminated" in state ? "terminated" : "running" in state ? "running" : "waiting");

/** Waits to be started: waiting, on disk, not handed to the runtime, not being deleted. */
export function isStartable(lifecycle: Lifecycle): boolean {
  return phase(lifecycle.state) === "waiting" && lifecycle.persisted && !lifecycle.starting && !lifecycle.deleting;
}

const unchanged = (lifecycle: Lifecycle): Transition => ({ lifecycle, changes: {}, effects: [] });

function finishing(lifecycle: Lifecycle, state: TaskState, extra: Transition["changes"] = {}): Transition {
  return {
    lifecycle: { ...lifecycle, state, starting: false, watching: false },
    changes: { state, ...extra },
    effects: [{ type: "persist", durable: false }, { type: "ended" }, { type: "publish", event: "terminated" }, { type: "schedule" }, { type: "finished" }],
  };
}

/**
 * The lifecycle of one task, as a pure function: from its state and an event to the next state and the effects
 * the manager carries out. A terminated task stays terminated; whatever arrives late is ignored.
 */
export function transition(lifecycle: Lifecycle, event: LifecycleEvent): Transition {
  const current = phase(lifecycle.state);
  const terminal = current === "terminated";
  switch (event.type) {
    case "persisted":
      return { lifecycle: { ...lifecycle, persisted: true }, changes: {}, effects: [{ type: "publish", event: "created" }, { type: "schedule" }] };
    case "slotGranted":
      if (!isStartable(lifecycle)) return unchanged(lifecycle);
      return { lifecycle: { ...lifecycle, starting: true }, changes: {}, effects: [{ type: "startRuntime" }] };
    case "slotDenied": {
      if (!isStartable(lifecycle) || ("waiting" in lifecycle.state && lifecycle.state.waiting.reason === "Queued")) return unchanged(lifecycle);
      const state: TaskState = { waiting: { reason: "Queued" } };
      return { lifecycle: { ...lifecycle, state }, changes: { state }, effects: [{ type: "persist", durable: false }] };
    }
    case "started": {
      if (terminal) return unchanged({ ...lifecycle, starting: false });
      const state: TaskState = { running: { startedAt: event.startedAt } };
      const effects: Effect[] = [{ type: "persist", durable: false }, { type: "publish", event: "started" }, { type: "watch" }];
      if (lifecycle.cancelRequested || lifecycle.deleting) effects.push({ type: "stopRuntime" });
      return { lifecycle: { ...lifecycle, state, starting: false, hasHandle: true }, changes: { state }, effects };
    }
    case "startFailed":
      if (terminal) return unchanged({ ...lifecycle, starting: false });
      return finishing(lifecycle, failedToStart(event.reason, event.message, event.exitCode, event.now));
    case "startCancelled":
      if (terminal) return unchanged({ ...lifecycle, starting: false });
      return finishing(lifecycle, cancelledBeforeStart(event.now));
    case "exited": {
      if (terminal) return unchanged({ ...lifecycle, watching: false });
      const next = finishing(lifecycle, terminatedFromOutcome(event.result, lifecycle.cancelRequested), event.result.logTruncated ? { logTruncated: true } : {});
      if (event.result.reason === "Lost") next.effects.unshift({ type: "warnLost", message: event.result.message ?? "" });
      return next;
    }
    case "waitFailed":
      return unchanged({ ...lifecycle, watching: false });
    case "stopRequested":
      if (terminal || lifecycle.cancelRequested) return unchanged(lifecycle);
      if (isStartable(lifecycle)) return finishing(lifecycle, cancelledBeforeStart(event.now));
      return {
        lifecycle: { ...lifecycle, cancelRequested: true },
        changes: { cancelRequested: true },
        // A starting task's start is given up; a runtime too late for that returns it started, and `started` stops it.
        effects: [{ type: "persist", durable: true }, ...(current === "running" ? [{ type: "stopRuntime" } as const] : lifecycle.starting ? [{ type: "cancelStart" } as const] : [])],
      };
    case "deleteRequested":
      if (lifecycle.deleting) return unchanged(lifecycle);
      return {
        lifecycle: { ...lifecycle, deleting: true },
        changes: { deletionTimestamp: event.now.toISOString(), deletionReason: event.reason },
        effects: [{ type: "persist", durable: true }, ...(lifecycle.starting && !terminal ? [{ type: "cancelStart" } as const] : []), { type: "runDeletion" }],
      };
    case "recovered": {
      if (terminal) return unchanged(lifecycle);
      const adopted = current === "waiting";
      const state: TaskState = adopted ? { running: { startedAt: event.startedAt } } : lifecycle.state;
      const effects: Effect[] = [{ type: "persist", durable: false }];
      if (adopted) effects.push({ type: "publish", event: "started" });
      effects.push({ type: "watch" });
      if (lifecycle.cancelRequested || lifecycle.deleting) effects.push({ type: "stopRuntime" });
      return { lifecycle: { ...lifecycle, state, hasHandle: true }, changes: adopted ? { state } : {}, effects };
    }
    case "recoveredNothing":
      // A waiting task never started: the scheduler starts it, unless a stop was accepted while its start was in
      // flight (the executor died before it recorded the start given up). A running one vanished without an outcome.
      if (current === "waiting" && lifecycle.cancelRequested) return finishing(lifecycle, cancelledBeforeStart(event.now));
      if (current !== "running") return unchanged(lifecycle);
      return finishing(lifecycle, lost("the runtime has no trace of this task after a restart", event.now));
    case "recoveryFailed":
      if (terminal) return unchanged(lifecycle);
      return finishing(lifecycle, lost(`cannot recover after a restart: ${event.message}`, event.now));
  }
}
