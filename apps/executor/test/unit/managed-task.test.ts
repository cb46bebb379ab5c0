import { describe, expect, it, vi } from "vitest";
import type { TaskRuntime } from "@org/task-core";
import type { TaskRecord } from "@org/store";
import { ManagedTask } from "../../src/manager/managed-task.js";

const record: TaskRecord = {
  version: 1,
  name: "cached",
  spec: { process: { command: ["true"] } },
  legacyShape: false,
  origin: "api",
  runtime: "process",
  creationTimestamp: "2026-01-01T00:00:00.000Z",
  sequence: 0,
  state: { waiting: { reason: "Initialized" } },
};

describe("ManagedTask wire form", () => {
  it("is serialised once per record, and again after the record is replaced", () => {
    const task = new ManagedTask(record, {} as TaskRuntime, "/nowhere");
    const first = task.toWire();
    const json = task.toWireJson();
    expect(json).toBe(JSON.stringify(first));
    const stringify = vi.spyOn(JSON, "stringify");
    expect(task.toWireJson()).toBe(json);
    expect(stringify).not.toHaveBeenCalled();
    stringify.mockRestore();
    task.record = { ...record, state: { running: { startedAt: "2026-01-01T00:00:01.000Z" } } };
    const second = task.toWire();
    expect(second.status.state).toEqual({ running: { startedAt: "2026-01-01T00:00:01.000Z" } });
    expect(task.toWireJson()).toBe(JSON.stringify(second));
  });

  it("of a large task is made per call, not kept next to the record that already holds its spec", () => {
    const big = new ManagedTask({ ...record, spec: { process: { command: ["echo", "x".repeat(100_000)] } } }, {} as TaskRuntime, "/nowhere");
    const stringify = vi.spyOn(JSON, "stringify");
    expect(big.toWireJson()).toBe(big.toWireJson());
    expect(stringify).toHaveBeenCalledTimes(2);
    stringify.mockRestore();
  });
});

describe("ManagedTask end", () => {
  it("resolves a wait made before the end, and is resolved at once for a task that has ended", async () => {
    const running = new ManagedTask({ ...record, state: { running: { startedAt: "2026-01-01T00:00:01.000Z" } } }, {} as TaskRuntime, "/nowhere");
    let ended = false;
    const wait = running.ended.then(() => (ended = true));
    expect(running.ended).toBe(running.ended);
    await Promise.resolve();
    expect(ended).toBe(false);
    running.resolveEnded();
    await wait;
    expect(ended).toBe(true);
    let again = false;
    await running.ended.then(() => (again = true));
    expect(again).toBe(true);

    const endedUnawaited = new ManagedTask({ ...record, state: { running: { startedAt: "2026-01-01T00:00:01.000Z" } } }, {} as TaskRuntime, "/nowhere");
    endedUnawaited.resolveEnded();
    await endedUnawaited.ended;

    const finished = new ManagedTask({ ...record, state: { terminated: { exitCode: 0, reason: "Succeeded", finishedAt: "2026-01-01T00:00:02.000Z" } } }, {} as TaskRuntime, "/nowhere");
    // Finished tasks share one resolved promise: none is kept per task.
    expect(finished.ended).toBe(running.ended);
  });
});
