import { describe, expect, it } from "vitest";
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
  it("is built and serialised once per record, and again after the record is replaced", () => {
    const task = new ManagedTask(record, {} as TaskRuntime, "/nowhere");
    const first = task.toWire();
    expect(task.toWire()).toBe(first);
    expect(task.toWireJson()).toBe(JSON.stringify(first));
    task.record = { ...record, state: { running: { startedAt: "2026-01-01T00:00:01.000Z" } } };
    const second = task.toWire();
    expect(second).not.toBe(first);
    expect(second.status.state).toEqual({ running: { startedAt: "2026-01-01T00:00:01.000Z" } });
    expect(JSON.parse(task.toWireJson()).status.state).toEqual({ running: { startedAt: "2026-01-01T00:00:01.000Z" } });
  });
});
