import { describe, expect, it } from "vitest";
import type { TaskState } from "@org/task-core";
import type { TaskResourceStatus } from "@org/task-api";
import { endedWithout, formatDuration, observedRunOf, statusAfter } from "../../src/policy/phase.js";

const started = "2026-01-01T00:00:00Z";
const finished = "2026-01-01T00:00:12Z";
const terminated = (exitCode: number, reason: string): TaskState => ({ terminated: { exitCode, reason, startedAt: started, finishedAt: finished } });

describe("observedRunOf: executor state → Task phase", () => {
  it.each<[string, TaskState, string, string | undefined, number | undefined]>([
    ["waiting Initialized", { waiting: { reason: "Initialized" } }, "Scheduled", "Initialized", undefined],
    ["waiting Queued", { waiting: { reason: "Queued" } }, "Scheduled", "Queued", undefined],
    ["running", { running: { startedAt: started } }, "Running", undefined, undefined],
    ["exit 0", terminated(0, "Succeeded"), "Succeeded", "Succeeded", 0],
    ["exit 3", terminated(3, "Failed"), "Failed", "Failed", 3],
    ["timeout", terminated(137, "TaskTimeout"), "Failed", "TaskTimeout", 137],
    ["OOM", terminated(137, "OOMKilled"), "Failed", "OOMKilled", 137],
    ["lost", terminated(255, "Lost"), "Failed", "Lost", 255],
    ["start error", terminated(127, "StartError"), "Failed", "StartError", 127],
    ["cancelled", terminated(143, "Cancelled"), "Cancelled", "Cancelled", 143],
  ])("%s", (_name, state, phase, reason, exitCode) => {
    const run = observedRunOf(state);
    expect(run.phase).toBe(phase);
    expect(run.reason).toBe(reason);
    expect(run.exitCode).toBe(exitCode);
  });
});

describe("statusAfter", () => {
  const now = new Date("2026-01-01T00:00:13Z");
  const scheduled: TaskResourceStatus = { phase: "Scheduled", attempts: 1 };

  it("moves to Running with the start time and an Unknown Succeeded condition", () => {
    const next = statusAfter(scheduled, observedRunOf({ running: { startedAt: started } }), now)!;
    expect(next).toMatchObject({ phase: "Running", startTime: started, attempts: 1 });
    expect(next.conditions).toEqual([expect.objectContaining({ type: "Succeeded", status: "Unknown" })]);
  });

  it("ends with exit code, completion time, duration and a final condition", () => {
    const next = statusAfter({ ...scheduled, phase: "Running", startTime: started }, observedRunOf(terminated(3, "Failed")), now)!;
    expect(next).toMatchObject({ phase: "Failed", exitCode: 3, reason: "Failed", completionTime: finished, duration: "12s" });
    expect(next.conditions).toEqual([expect.objectContaining({ type: "Succeeded", status: "False", reason: "Failed" })]);
    const ok = statusAfter(scheduled, observedRunOf(terminated(0, "Succeeded")), now)!;
    expect(ok.conditions![0]!.status).toBe("True");
  });

  it.each<[string, TaskResourceStatus, TaskState]>([
    ["a finished Task never changes", { phase: "Succeeded", exitCode: 0 }, terminated(1, "Failed")],
    ["a Task never moves back", { phase: "Running", startTime: started }, { waiting: { reason: "Queued" } }],
  ])("%s", (_name, current, state) => {
    expect(statusAfter(current, observedRunOf(state), now)).toBeUndefined();
  });

  it("reports no change when nothing changed", () => {
    const running = statusAfter(scheduled, observedRunOf({ running: { startedAt: started } }), now)!;
    expect(statusAfter(running, observedRunOf({ running: { startedAt: started } }), new Date("2026-01-01T00:05:00Z"))).toBeUndefined();
  });

  it("ends Tasks without a run: cancelled before placement, executor lost", () => {
    expect(endedWithout({}, "Cancelled", "Cancelled", "cancelled before it was placed", now)).toMatchObject({ phase: "Cancelled", completionTime: now.toISOString() });
    const lost = endedWithout({ phase: "Running", startTime: started }, "Failed", "ExecutorLost", "gone", now);
    expect(lost).toMatchObject({ phase: "Failed", reason: "ExecutorLost", duration: "13s" });
    expect(lost.exitCode).toBeUndefined();
    expect(endedWithout({ phase: "Succeeded" }, "Failed", "ExecutorLost", "gone", now).phase).toBe("Succeeded");
  });
});

describe("formatDuration", () => {
  it.each([
    [450, "450ms"],
    [12_000, "12s"],
    [184_000, "3m4s"],
    [120_000, "2m"],
    [3_720_000, "1h2m"],
    [90_000_000, "1d1h"],
  ])("%d ms → %s", (ms, text) => expect(formatDuration(ms)).toBe(text));
});
