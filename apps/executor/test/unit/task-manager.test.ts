import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  silentLogger,
  TaskStartCancelledError,
  type ExitResult,
  type RuntimeHandle,
  type RuntimeObservation,
  type RuntimeTask,
  type StartOptions,
  type TaskRuntime,
} from "@org/task-core";
import { TaskStore, type TaskRecord } from "@org/store";
import { EventHub } from "../../src/manager/event-hub.js";
import { RuntimeSet } from "../../src/manager/runtime-set.js";
import { TaskManager } from "../../src/manager/task-manager.js";

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * A runtime whose every answer the test scripts: recover answers per task (possibly only when released), starts
 * and stops are recorded in the order they happened, waits resolve when the test ends a task.
 */
class ScriptedRuntime implements TaskRuntime {
  readonly name = "process";
  readonly log: string[] = [];
  readonly recoverAnswers = new Map<string, () => Promise<RuntimeHandle | undefined>>();
  /** Tasks whose start hangs until it is given up (then it rejects as cancelled). */
  readonly hangingStarts = new Set<string>();
  private readonly exits = new Map<string, ReturnType<typeof deferred<ExitResult>>>();
  recovering = 0;

  exitOf(name: string) {
    if (!this.exits.has(name)) this.exits.set(name, deferred<ExitResult>());
    return this.exits.get(name)!;
  }
  end(name: string, exitCode = 0) {
    this.exitOf(name).resolve({ exitCode, reason: exitCode === 0 ? "Succeeded" : "Failed", startedAt: new Date(0).toISOString(), finishedAt: new Date().toISOString() });
  }
  async start(task: RuntimeTask, options: StartOptions = {}): Promise<RuntimeHandle> {
    this.log.push(`start ${task.name}${this.recovering > 0 ? " (while recovering)" : ""}`);
    if (this.hangingStarts.has(task.name)) {
      const signal = options.signal;
      if (!signal) throw new Error("a hanging start needs a signal to be given up");
      await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
      this.log.push(`start of ${task.name} given up`);
      throw new TaskStartCancelledError();
    }
    return { runtime: this.name, id: task.name, startedAt: new Date().toISOString() };
  }
  async inspect(): Promise<RuntimeObservation> {
    return { phase: "running", startedAt: new Date(0).toISOString() };
  }
  wait(task: RuntimeTask): Promise<ExitResult> {
    return this.exitOf(task.name).promise;
  }
  async stop(task: RuntimeTask): Promise<void> {
    this.log.push(`stop ${task.name}`);
    this.end(task.name, 143);
  }
  async destroy(task: RuntimeTask): Promise<void> {
    this.log.push(`destroy ${task.name}`);
  }
  async recover(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<RuntimeHandle | undefined> {
    this.recovering++;
    try {
      return await (this.recoverAnswers.get(task.name)?.() ?? handle);
    } finally {
      this.recovering--;
    }
  }
  logFiles() {
    return [];
  }
  async close(): Promise<void> {}
}

async function setUp(options: { maxConcurrentTasks?: number; records?: TaskRecord[] } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), "manager-"));
  const store = await TaskStore.open(dataDir);
  for (const record of options.records ?? []) await store.create(record);
  const hub = await EventHub.open(dataDir);
  const runtime = new ScriptedRuntime();
  const events: string[] = [];
  hub.subscribe((event) => events.push(`${event.type} ${event.task?.name ?? ""}`.trim()));
  const manager = new TaskManager({
    store,
    hub,
    runtimes: new RuntimeSet({ runtime }, undefined),
    logger: silentLogger,
    maxConcurrentTasks: options.maxConcurrentTasks ?? 0,
    stopGraceMs: 1000,
  });
  return { manager, runtime, events, store };
}

function record(name: string, sequence: number, state: TaskRecord["state"], handle?: RuntimeHandle): TaskRecord {
  return {
    version: 1,
    name,
    spec: { process: { command: ["true"] } },
    legacyShape: false,
    origin: "api",
    runtime: "process",
    creationTimestamp: new Date(sequence).toISOString(),
    sequence,
    state,
    ...(handle ? { handle: handle as TaskRecord["handle"] } : {}),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const exists = (manager: TaskManager, name: string) => manager.list().some((task) => task.name === name);

describe("TaskManager", () => {
  it("starts tasks first come, first served up to the limit, and the next when one ends", async () => {
    const { manager, runtime, events } = await setUp({ maxConcurrentTasks: 2 });
    for (const name of ["a", "b", "c"]) await manager.create({ name, spec: { process: { command: ["true"] } }, legacyShape: false });
    await until(() => runtime.log.length === 2);
    await settle();
    expect(runtime.log).toEqual(["start a", "start b"]);
    expect(manager.get("c").status.state).toEqual({ waiting: { reason: "Queued" } });
    runtime.end("a");
    await until(() => runtime.log.length === 3);
    expect(runtime.log).toEqual(["start a", "start b", "start c"]);
    expect(manager.get("a").status.state).toMatchObject({ terminated: { exitCode: 0, reason: "Succeeded" } });
    expect(events.filter((event) => event.endsWith(" a"))).toEqual(["created a", "started a", "terminated a"]);
  });

  it("a stop of a queued task ends it Cancelled without starting it; a stop of a running one stops it", async () => {
    const { manager, runtime } = await setUp({ maxConcurrentTasks: 1 });
    await manager.create({ name: "runner", spec: { process: { command: ["true"] } }, legacyShape: false });
    await manager.create({ name: "queued", spec: { process: { command: ["true"] } }, legacyShape: false });
    await settle();
    expect((await manager.stop("queued")).status.state).toMatchObject({ terminated: { reason: "Cancelled", exitCode: 143 } });
    expect(manager.get("queued").status.state).not.toHaveProperty("terminated.startedAt");
    await manager.stop("runner");
    await until(() => "terminated" in manager.get("runner").status.state);
    expect(manager.get("runner").status.state).toMatchObject({ terminated: { reason: "Cancelled" } });
    expect(runtime.log).toEqual(["start runner", "stop runner"]);
  });

  it("a stop or delete of a starting task gives its start up at once; the slot goes to the next task", async () => {
    const { manager, runtime, events } = await setUp({ maxConcurrentTasks: 1 });
    runtime.hangingStarts.add("hung-stop");
    runtime.hangingStarts.add("hung-delete");
    for (const name of ["hung-stop", "hung-delete", "next"]) await manager.create({ name, spec: { process: { command: ["true"] } }, legacyShape: false });
    await until(() => runtime.log.length === 1);
    const stopped = await manager.stop("hung-stop");
    await until(() => "terminated" in manager.get("hung-stop").status.state);
    expect(manager.get("hung-stop").status.state).toEqual({ terminated: { exitCode: 143, reason: "Cancelled", message: expect.any(String), finishedAt: expect.any(String) } });
    expect(stopped.status.state).not.toHaveProperty("running");
    await until(() => runtime.log.includes("start hung-delete"));
    await manager.delete("hung-delete");
    await until(() => !exists(manager, "hung-delete"));
    await until(() => runtime.log.includes("start next"));
    expect(runtime.log).toEqual(["start hung-stop", "start of hung-stop given up", "start hung-delete", "start of hung-delete given up", "destroy hung-delete", "start next"]);
    expect(events.filter((event) => event.endsWith("hung-stop"))).toEqual(["created hung-stop", "terminated hung-stop"]);
    expect(events).toContain("deleted hung-delete");
  });

  it("delete stops a running task, destroys it and removes it; the deleted event carries the reason", async () => {
    const { manager, runtime, events } = await setUp();
    await manager.create({ name: "doomed", spec: { process: { command: ["true"] } }, legacyShape: false });
    await until(() => runtime.log.length === 1);
    await manager.delete("doomed");
    await until(() => !exists(manager, "doomed"));
    expect(() => manager.get("doomed")).toThrow(/not found/);
    expect(runtime.log).toEqual(["start doomed", "stop doomed", "destroy doomed"]);
    expect(events.at(-1)).toBe("deleted doomed");
  });

  it("recovery is a barrier: nothing starts until every task's recover has answered", async () => {
    const slow = deferred<RuntimeHandle | undefined>();
    const records = [
      // Ended while the executor was down: its recovery settles it at once, which frees a slot.
      record("ended-while-down", 0, { running: { startedAt: new Date(0).toISOString() } }, { runtime: "process", id: "ended-while-down" }),
      // Was being started when the executor died: only its own recover can tell whether it runs.
      record("in-flight", 1, { waiting: { reason: "Queued" } }),
      record("queued-1", 2, { waiting: { reason: "Queued" } }),
      record("queued-2", 3, { waiting: { reason: "Queued" } }),
    ];
    const { manager, runtime } = await setUp({ maxConcurrentTasks: 1, records });
    runtime.end("ended-while-down");
    runtime.recoverAnswers.set("in-flight", () => slow.promise);
    const recovered = manager.recover();
    await until(() => exists(manager, "ended-while-down") && "terminated" in manager.get("ended-while-down").status.state);
    await settle();
    expect(runtime.log).toEqual([]);
    slow.resolve({ runtime: "process", id: "in-flight", startedAt: new Date().toISOString() });
    await recovered;
    await settle();
    // The in-flight task was adopted by its recovery and holds the only slot; nobody was started twice.
    expect(manager.get("in-flight").status.state).toHaveProperty("running");
    expect(runtime.log).toEqual([]);
    runtime.end("in-flight");
    await until(() => runtime.log.length === 1);
    await settle();
    expect(runtime.log).toEqual(["start queued-1"]);
  });

  it("a running task the runtime cannot recover ends Lost with exit code 255", async () => {
    const records = [record("gone", 0, { running: { startedAt: new Date(0).toISOString() } }, { runtime: "process", id: "gone" })];
    const { manager, runtime } = await setUp({ records });
    runtime.recoverAnswers.set("gone", () => Promise.reject(new Error("no such process")));
    const result = await manager.recover();
    expect(result.problems.join("\n")).toMatch(/gone: cannot recover: no such process/);
    expect(manager.get("gone").status.state).toMatchObject({ terminated: { reason: "Lost", exitCode: 255 } });
  });
});
