import { describe, expect, it } from "vitest";
import { CANCELLED_EXIT_CODE, type ExitResult } from "@org/task-core";
import {
  cancelledBeforeStart,
  lost,
  tasksToStart,
  terminatedFromOutcome,
  transition,
  type Effect,
  type Lifecycle,
  type LifecycleEvent,
} from "../../src/manager/transitions.js";

const base: ExitResult = { exitCode: 0, reason: "Succeeded", startedAt: "s", finishedAt: "f" };

describe("terminatedFromOutcome", () => {
  it.each<[string, ExitResult, boolean, object]>([
    ["success", base, false, { exitCode: 0, reason: "Succeeded", startedAt: "s", finishedAt: "f" }],
    ["failure", { ...base, exitCode: 2, reason: "Failed" }, false, { exitCode: 2, reason: "Failed" }],
    ["timeout", { ...base, exitCode: 137, reason: "TaskTimeout", message: "m" }, false, { exitCode: 137, reason: "TaskTimeout", message: "m" }],
    ["cancel of a process that exited on SIGTERM", { ...base, exitCode: 143, signal: 15, reason: "Failed" }, true, { exitCode: 143, signal: 15, reason: "Cancelled" }],
    ["cancel of a process that exited 0 on SIGTERM", base, true, { exitCode: CANCELLED_EXIT_CODE, reason: "Cancelled" }],
    ["cancel of a process with its own code", { ...base, exitCode: 4, reason: "Failed" }, true, { exitCode: 4, reason: "Cancelled" }],
    ["cancel cannot hide a start error", { exitCode: 127, reason: "StartError", finishedAt: "f" }, true, { exitCode: 127, reason: "StartError" }],
  ])("%s", (_label, result, cancelled, expected) => {
    expect(terminatedFromOutcome(result, cancelled)).toEqual({ terminated: expect.objectContaining(expected) });
  });

  it("a task cancelled before it started has no startedAt", () => {
    const state = cancelledBeforeStart(new Date(0));
    expect(state).toEqual({ terminated: { exitCode: 143, reason: "Cancelled", message: expect.any(String), finishedAt: "1970-01-01T00:00:00.000Z" } });
  });
});

describe("tasksToStart", () => {
  const waiting = [{ sequence: 5 }, { sequence: 1 }, { sequence: 3 }];
  it.each([
    [0, 0, [1, 3, 5]],
    [0, 2, [1, 3]],
    [1, 2, [1]],
    [2, 2, []],
    [5, 2, []],
  ])("running %d, limit %d → %j", (running, limit, expected) => {
    expect(tasksToStart(waiting, running, limit).map((task) => task.sequence)).toEqual(expected);
  });
});

describe("transition: the lifecycle as a table", () => {
  const now = new Date(0);
  const base: Lifecycle = { state: { waiting: { reason: "Initialized" } }, persisted: true, starting: false, watching: false, hasHandle: false, cancelRequested: false, deleting: false };
  const waitingTask = base;
  const queued: Lifecycle = { ...base, state: { waiting: { reason: "Queued" } } };
  const creating: Lifecycle = { ...base, persisted: false };
  const starting: Lifecycle = { ...base, starting: true };
  const runningTask: Lifecycle = { ...base, state: { running: { startedAt: "s" } }, hasHandle: true, watching: true };
  const ended: Lifecycle = { ...base, state: { terminated: { exitCode: 0, reason: "Succeeded", finishedAt: "f" } }, hasHandle: true };
  const exit0: ExitResult = { exitCode: 0, reason: "Succeeded", startedAt: "s", finishedAt: "f" };
  const finish = ["persist", "ended", "publish:terminated", "schedule", "finished"];

  const kinds = (effects: Effect[]) => effects.map((effect) => (effect.type === "publish" ? `publish:${effect.event}` : effect.type === "persist" && effect.durable ? "persist!" : effect.type));

  it.each<[string, Lifecycle, LifecycleEvent, string[], Partial<Lifecycle>?]>([
    ["a new task on disk is announced and scheduled", creating, { type: "persisted" }, ["publish:created", "schedule"], { persisted: true }],
    ["a slot starts a waiting task", waitingTask, { type: "slotGranted" }, ["startRuntime"], { starting: true }],
    ["a slot for a task not yet on disk does nothing", creating, { type: "slotGranted" }, []],
    ["a slot for a starting task does nothing", starting, { type: "slotGranted" }, []],
    ["a slot for a task being deleted does nothing", { ...waitingTask, deleting: true }, { type: "slotGranted" }, []],
    ["no slot: the task becomes Queued", waitingTask, { type: "slotDenied" }, ["persist"], { state: { waiting: { reason: "Queued" } } }],
    ["no slot for a queued task: nothing to write", queued, { type: "slotDenied" }, []],
    ["a returned start runs, is announced and watched", starting, { type: "started", startedAt: "s" }, ["persist", "publish:started", "watch"], { state: { running: { startedAt: "s" } }, starting: false, hasHandle: true }],
    ["a start that returns after a stop request is stopped", { ...starting, cancelRequested: true }, { type: "started", startedAt: "s" }, ["persist", "publish:started", "watch", "stopRuntime"]],
    ["a start that returns after a delete request is stopped", { ...starting, deleting: true }, { type: "started", startedAt: "s" }, ["persist", "publish:started", "watch", "stopRuntime"]],
    ["a failed start ends the task", starting, { type: "startFailed", reason: "StartError", message: "m", exitCode: 127, now }, finish, { starting: false }],
    ["an exit ends a running task", runningTask, { type: "exited", result: exit0 }, finish],
    ["a lost task is also logged", runningTask, { type: "exited", result: { ...exit0, exitCode: 255, reason: "Lost", message: "gone" } }, ["warnLost", ...finish]],
    ["a late exit of an ended task is ignored", ended, { type: "exited", result: exit0 }, []],
    ["a failed wait leaves the task to the reconcile loop", runningTask, { type: "waitFailed" }, [], { watching: false }],
    ["stop of a queued task cancels it without a start", queued, { type: "stopRequested", now }, finish],
    ["stop of a running task is written first, then signalled", runningTask, { type: "stopRequested", now }, ["persist!", "stopRuntime"], { cancelRequested: true }],
    ["stop of a starting task is written, then its start is given up", starting, { type: "stopRequested", now }, ["persist!", "cancelStart"], { cancelRequested: true }],
    ["a start given up on request ends the task", { ...starting, cancelRequested: true }, { type: "startCancelled", now }, finish, { starting: false }],
    ["a start given up after the task ended changes nothing", { ...ended, starting: true }, { type: "startCancelled", now }, [], { starting: false }],
    ["stop of an ended task does nothing", ended, { type: "stopRequested", now }, []],
    ["a second stop does nothing", { ...runningTask, cancelRequested: true }, { type: "stopRequested", now }, []],
    ["delete is written first, then carried out", runningTask, { type: "deleteRequested", reason: "Deleted", now }, ["persist!", "runDeletion"], { deleting: true }],
    ["delete of a starting task gives its start up, then is carried out", starting, { type: "deleteRequested", reason: "Deleted", now }, ["persist!", "cancelStart", "runDeletion"], { deleting: true }],
    ["a second delete does nothing", { ...ended, deleting: true }, { type: "deleteRequested", reason: "Deleted", now }, []],
    ["a recovered running task is watched again, without a second started event", runningTask, { type: "recovered", startedAt: "s" }, ["persist", "watch"]],
    ["a task adopted by recovery (its start was in flight) runs and is announced", queued, { type: "recovered", startedAt: "s" }, ["persist", "publish:started", "watch"], { state: { running: { startedAt: "s" } } }],
    ["a recovered task that was asked to stop is stopped", { ...runningTask, cancelRequested: true }, { type: "recovered", startedAt: "s" }, ["persist", "watch", "stopRuntime"]],
    ["a waiting task the runtime never saw waits for the scheduler", queued, { type: "recoveredNothing", now }, []],
    ["a task stopped while it started, which the runtime never saw, ends Cancelled instead of starting", { ...queued, cancelRequested: true }, { type: "recoveredNothing", now }, finish, { state: { terminated: expect.objectContaining({ reason: "Cancelled" }) } }],
    ["a running task the runtime lost ends Lost", runningTask, { type: "recoveredNothing", now }, finish],
    ["a task that cannot be recovered ends Lost", queued, { type: "recoveryFailed", message: "boom", now }, finish],
  ])("%s", (_label, lifecycle, event, effects, expected = {}) => {
    const next = transition(lifecycle, event);
    expect(kinds(next.effects)).toEqual(effects);
    expect(next.lifecycle).toMatchObject(expected);
    if (next.changes.state) expect(next.lifecycle.state).toEqual(next.changes.state);
  });

  it("Lost is exit code 255 with the reason in the message", () => {
    const next = transition({ ...base, state: { running: { startedAt: "s" } } }, { type: "recoveryFailed", message: "boom", now });
    expect(next.changes.state).toEqual({ terminated: { exitCode: 255, reason: "Lost", message: "cannot recover after a restart: boom", finishedAt: now.toISOString() } });
    expect(lost("x", now)).toEqual({ terminated: { exitCode: 255, reason: "Lost", message: "x", finishedAt: now.toISOString() } });
  });

  it("a start given up on request is Cancelled, with no startedAt", () => {
    const next = transition({ ...starting, cancelRequested: true }, { type: "startCancelled", now });
    expect(next.changes.state).toEqual(cancelledBeforeStart(now));
  });

  it("an exit after a stop request is Cancelled", () => {
    const next = transition({ ...base, state: { running: { startedAt: "s" } }, cancelRequested: true }, { type: "exited", result: { ...exit0, exitCode: 143, signal: 15, reason: "Failed" } });
    expect(next.changes.state).toMatchObject({ terminated: { reason: "Cancelled", exitCode: 143 } });
  });
});
