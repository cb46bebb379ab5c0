import { describe, expect, it } from "vitest";
import { CANCELLED_EXIT_CODE, type ExitResult } from "@org/task-core";
import { cancelledBeforeStart, tasksToStart, terminatedFromOutcome } from "../../src/manager/transitions.js";

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
