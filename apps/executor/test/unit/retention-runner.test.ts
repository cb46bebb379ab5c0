import { describe, expect, it, vi } from "vitest";
import type { TaskRecord, TaskStore } from "@org/store";
import { ApiError, type Logger } from "@org/task-core";
import type { TaskManager } from "../../src/manager/task-manager.js";
import { RetentionRunner } from "../../src/retention.js";

function finished(name: string, minute: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    version: 1,
    name,
    spec: { process: { command: ["true"] } },
    legacyShape: false,
    origin: "api",
    runtime: "process",
    creationTimestamp: new Date(minute * 60_000).toISOString(),
    sequence: minute,
    state: { terminated: { exitCode: 0, reason: "Succeeded", finishedAt: new Date(minute * 60_000 + 1000).toISOString() } },
    ...extra,
  };
}

/** The manager's side as retention sees it: records, and deletes that the test may make fail. */
function fakeManager(records: TaskRecord[], failWith?: (name: string) => Error | undefined) {
  const deleted: Array<{ name: string; reason: string }> = [];
  const manager = {
    records: () => records,
    async delete(name: string, reason: string) {
      const error = failWith?.(name);
      if (error) throw error;
      deleted.push({ name, reason });
    },
  };
  return { manager: manager as unknown as TaskManager, deleted };
}

function recordingLogger() {
  const lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => lines.push({ level, message, ...(meta ? { meta } : {}) });
  return { logger: { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") } as Logger, lines };
}

const store = { diskUsage: async () => 1000 } as unknown as TaskStore;

describe("RetentionRunner", () => {
  it("retires the oldest finished tasks past the per-group count, never unfinished or /setTasks tasks", async () => {
    const records = [
      finished("old", 1),
      finished("synced", 2, { origin: "sync" }),
      finished("middle", 3),
      finished("running", 0, { state: { running: { startedAt: new Date(0).toISOString() } } }),
      finished("new", 4),
    ];
    const { manager, deleted } = fakeManager(records);
    const { logger } = recordingLogger();
    await new RetentionRunner(manager, store, { keepPerGroup: 3 }, logger).runOnce();
    expect(deleted).toEqual([{ name: "old", reason: "Retention:count" }]);
  });

  it("skips tasks already being deleted, and applies the TTL", async () => {
    const now = Date.now() / 60_000;
    const records = [finished("expired", now - 120), finished("fresh", now - 1), finished("leaving", now - 500, { deletionTimestamp: new Date().toISOString() })];
    const { manager, deleted } = fakeManager(records);
    await new RetentionRunner(manager, store, { keepPerGroup: 100, finishedTtlMs: 3_600_000 }, recordingLogger().logger).runOnce();
    expect(deleted).toEqual([{ name: "expired", reason: "Retention:ttl" }]);
  });

  it("logs a retirement that fails unexpectedly, and not one whose task is already gone", async () => {
    const records = [finished("a", 1), finished("b", 2), finished("c", 3)];
    const { manager } = fakeManager(records, (name) =>
      name === "a" ? new ApiError("InsufficientStorage", "no space left on device") : name === "b" ? new ApiError("NotFound", "task b not found") : undefined,
    );
    const { logger, lines } = recordingLogger();
    await new RetentionRunner(manager, store, { keepPerGroup: 1 }, logger).runOnce();
    const warnings = lines.filter((line) => line.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ message: "cannot retire a task; retried on the next pass", meta: { task: "a", rule: "count" } });
    expect(String(warnings[0]!.meta!.error)).toContain("no space left on device");
  });

  it("never runs two passes at once, and logs a pass that fails", async () => {
    let calls = 0;
    const manager = {
      records: () => {
        calls++;
        throw new Error("records unavailable");
      },
    } as unknown as TaskManager;
    const { logger, lines } = recordingLogger();
    const runner = new RetentionRunner(manager, store, { keepPerGroup: 1 }, logger);
    const first = runner.runOnce();
    expect(runner.runOnce()).toBe(first);
    await first;
    expect(calls).toBe(1);
    expect(lines).toMatchObject([{ level: "error", message: "retention pass failed" }]);
  });

  it("passes over unchanged records without ranking them again, and ranks again once a record changes", async () => {
    const records = [finished("a", 1), finished("b", 2), finished("c", 3)];
    let reads = 0;
    const candidatesRead: string[] = [];
    const tracked = records.map((record) => new Proxy(record, { get: (target, key, receiver) => (key === "creationTimestamp" && candidatesRead.push(target.name), Reflect.get(target, key, receiver)) }));
    const current = [...tracked];
    const { manager, deleted } = fakeManager(current);
    const counting = { ...manager, records: () => (reads++, [...current]), delete: manager.delete } as unknown as TaskManager;
    const { logger } = recordingLogger();
    const runner = new RetentionRunner(counting, store, { keepPerGroup: 2 }, logger);
    await runner.runOnce(); // retires "a": the next pass looks again
    expect(deleted).toEqual([{ name: "a", reason: "Retention:count" }]);
    current.splice(0, 1);
    await runner.runOnce(); // nothing to retire: settled
    candidatesRead.length = 0;
    await runner.runOnce();
    await runner.runOnce();
    expect(candidatesRead).toEqual([]);
    expect(reads).toBe(4);
    current.push(finished("d", 4)); // a new record: ranked again, "b" is now beyond the two places
    await runner.runOnce();
    expect(deleted).toEqual([{ name: "a", reason: "Retention:count" }, { name: "b", reason: "Retention:count" }]);
  });

  it("with no limit at all (keepPerGroup 0, no TTL, no budget) does not even read the records", async () => {
    let reads = 0;
    const manager = { records: () => (reads++, [finished("a", 1), finished("b", 2)]) } as unknown as TaskManager;
    const runner = new RetentionRunner(manager, store, { keepPerGroup: 0 }, recordingLogger().logger);
    await runner.runOnce();
    expect(reads).toBe(0);
    const limited = new RetentionRunner(manager, store, { keepPerGroup: 0, finishedTtlMs: 60_000 }, recordingLogger().logger);
    await limited.runOnce();
    expect(reads).toBe(1);
  });

  it("with a TTL, ranks unchanged records again on every pass (the clock decides too)", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const finishedAt = Date.now();
      const records = [finished("a", 1, { state: { terminated: { exitCode: 0, reason: "Succeeded", finishedAt: new Date(finishedAt).toISOString() } } })];
      const { manager, deleted } = fakeManager(records);
      const { logger } = recordingLogger();
      const runner = new RetentionRunner(manager, store, { keepPerGroup: 5, finishedTtlMs: 60_000 }, logger);
      await runner.runOnce();
      expect(deleted).toEqual([]);
      vi.setSystemTime(finishedAt + 61_000);
      await runner.runOnce();
      expect(deleted).toEqual([{ name: "a", reason: "Retention:ttl" }]);
    } finally {
      vi.useRealTimers();
    }
  });
});
