import { describe, expect, it } from "vitest";
import type { TaskResource } from "@org/task-api";
import { WorkQueue } from "../../src/queue.js";
import { retentionGroup, tasksToRetire } from "../../src/retention.js";

describe("WorkQueue", () => {
  it("holds a key once, and again after it was added while processed", async () => {
    const queue = new WorkQueue();
    queue.add("a");
    queue.add("a");
    queue.add("b");
    expect(queue.length).toBe(2);
    expect(await queue.get()).toBe("a");
    queue.add("a");
    expect(queue.length).toBe(1);
    expect(await queue.get()).toBe("b");
    queue.done("a");
    expect(await queue.get()).toBe("a");
    queue.shutDown();
    expect(await queue.get()).toBeUndefined();
  });

  it("serves urgent keys first, promotes a queued key added as urgent, and keeps urgency of a key added while processed", async () => {
    const queue = new WorkQueue();
    for (const key of ["p1", "p2", "p3"]) queue.add(key);
    queue.add("end1", { urgent: true });
    queue.add("p3", { urgent: true });
    queue.add("p3", { urgent: true });
    expect(queue.length).toBe(4);
    expect(await queue.get()).toBe("end1");
    queue.add("end1", { urgent: true });
    expect(await queue.get()).toBe("p3");
    queue.done("end1");
    expect(await queue.get()).toBe("end1");
    expect(await queue.get()).toBe("p1");
    expect(await queue.get()).toBe("p2");
    queue.shutDown();
  });

  it("backs off a failing key exponentially and forgets on success", () => {
    const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    expect([1, 2, 3, 4].map(() => queue.addRateLimited("k"))).toEqual([10, 20, 40, 50]);
    queue.forget("k");
    expect(queue.addRateLimited("k")).toBe(10);
    queue.shutDown();
  });
});

const task = (name: string, created: string, phase?: string, labels?: Record<string, string>, namespace = "ns"): TaskResource => ({
  apiVersion: "tasks.org.dev/v1alpha1",
  kind: "Task",
  metadata: { name, namespace, creationTimestamp: created, ...(labels ? { labels } : {}) },
  spec: { process: { command: ["true"] }, terminated: false, backoffLimit: 0 },
  ...(phase ? { status: { phase: phase as "Succeeded", completionTime: created } } : {}),
});

describe("retention of Tasks", () => {
  it("groups by namespace and app label", () => {
    expect(retentionGroup(task("a", "2026-01-01T00:00:00Z", undefined, { "app.kubernetes.io/name": "web" }))).toBe("ns/web");
    expect(retentionGroup(task("a", "2026-01-01T00:00:00Z"))).toBe("ns/");
  });

  it("keeps the newest per app, ties by name; unfinished Tasks take places but stay", () => {
    const tasks = [
      task("old-running", "2026-01-01T00:00:00Z"),
      task("a", "2026-01-01T00:00:01Z", "Succeeded"),
      task("b", "2026-01-01T00:00:01Z", "Failed"),
      task("c", "2026-01-01T00:00:02Z", "Succeeded"),
      task("other-app", "2026-01-01T00:00:00Z", "Succeeded", { "app.kubernetes.io/name": "x" }),
      task("other-ns", "2026-01-01T00:00:00Z", "Succeeded", undefined, "elsewhere"),
    ];
    expect(tasksToRetire(tasks, 2, Date.now()).sort()).toEqual(["ns/a", "ns/b"]);
    expect(tasksToRetire(tasks, 3, Date.now())).toEqual(["ns/b"]);
    expect(tasksToRetire(tasks, 0, Date.now())).toEqual([]);
  });
});
