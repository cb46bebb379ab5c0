import { afterAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw, shTask, waitTerminated } from "./helpers.js";
import { recordEvents } from "./sse.js";

describe("GET /events", () => {
  const executors: ExecutorProcess[] = [];
  afterAll(async () => {
    for (const executor of executors) await executor.kill();
  });

  it("streams created, started, terminated and deleted with increasing ids; resumes; survives restarts; resets", async () => {
    const executor = await startExecutor();
    executors.push(executor);
    const stream = await recordEvents(`${executor.url}/events`);
    expect(stream.raw.startsWith(":")).toBe(true);

    await executor.client.createTask(shTask("evented", "echo hi"));
    await waitTerminated(executor, "evented");
    await executor.client.deleteTask("evented");
    await waitFor(() => stream.events.some((event) => event.type === "deleted"));
    const types = stream.events.map((event) => event.type);
    expect(types).toEqual(["created", "started", "terminated", "deleted"]);
    const ids = stream.events.map((event) => event.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    expect(stream.events[2]!.task?.status.state).toHaveProperty("terminated");
    expect(stream.events[3]!.reason).toBe("Deleted");
    expect(stream.raw).toMatch(/^event: terminated$/m);
    stream.close();

    // Resume after the first event, by query and by Last-Event-ID.
    const resumed = await recordEvents(`${executor.url}/events?since=${ids[0]}`);
    await waitFor(() => resumed.events.length >= 3);
    expect(resumed.events.map((event) => event.id)).toEqual(ids.slice(1));
    resumed.close();
    const byHeader = await recordEvents(`${executor.url}/events`, { "last-event-id": String(ids[1]) });
    await waitFor(() => byHeader.events.length >= 2);
    expect(byHeader.events.map((event) => event.id)).toEqual(ids.slice(2));
    byHeader.close();

    // After a restart ids keep increasing, and a client resuming from before it is told to re-list.
    await executor.kill();
    const again = await executor.restart();
    executors.push(again);
    const afterRestart = await recordEvents(`${again.url}/events?since=${ids.at(-1)}`);
    await again.client.createTask(shTask("after-restart", "true"));
    await waitFor(() => afterRestart.events.some((event) => event.type === "created"));
    expect(afterRestart.events[0]!.type).toBe("reset");
    const created = afterRestart.events.find((event) => event.type === "created")!;
    expect(created.id).toBeGreaterThan(ids.at(-1)!);
    afterRestart.close();
  });

  it("a resume id the executor never gave out, or cannot read, gets a reset", async () => {
    const executor = await startExecutor();
    executors.push(executor);
    await executor.client.createTask(shTask("one", "true"));
    await waitTerminated(executor, "one");
    const known = await recordEvents(`${executor.url}/events?since=0`);
    await waitFor(() => known.events.length >= 3);
    const last = known.events.at(-1)!.id;
    known.close();
    for (const [url, headers] of [
      [`${executor.url}/events?since=${last + 1}`, {}],
      [`${executor.url}/events?since=999999999`, {}],
      [`${executor.url}/events`, { "last-event-id": String(last + 50) }],
      [`${executor.url}/events`, { "last-event-id": "not-an-id" }],
    ] as const) {
      const stream = await recordEvents(url, headers);
      await waitFor(() => stream.events.length >= 1);
      expect(stream.events[0], url).toMatchObject({ type: "reset", id: last });
      stream.close();
    }
    const upToDate = await recordEvents(`${executor.url}/events?since=${last}`);
    await executor.client.createTask(shTask("two", "true"));
    await waitFor(() => upToDate.events.length >= 1);
    expect(upToDate.events[0]).toMatchObject({ type: "created", id: last + 1 });
    upToDate.close();
  });

  it("GET /tasks/{name}?waitFor=terminated long-polls until the task ends", async () => {
    const executor = await startExecutor();
    executors.push(executor);
    await executor.client.createTask(shTask("slow", "sleep 1; exit 4"));
    const task = await executor.client.waitForTerminated("slow", 30);
    expect(task.status.state).toMatchObject({ terminated: { exitCode: 4 } });
    await executor.client.createTask(shTask("slower", "sleep 30"));
    const early = await raw(executor, "GET", "/tasks/slower?waitFor=terminated&timeoutSeconds=1");
    expect(early.status).toBe(200);
    expect(early.json).toMatchObject({ status: { state: { running: {} } } });
  });
});

describe("POST /tasks/{name}/stop", () => {
  let executor: ExecutorProcess;
  afterAll(async () => {
    await executor.kill();
  });

  it("cancels a running task and keeps it with its logs", async () => {
    executor = await startExecutor({ args: ["--max-concurrent-tasks=1", "--stop-grace-period=2s"] });
    await executor.client.createTask(shTask("runner", "echo working; exec sleep 60"));
    await executor.client.createTask(shTask("waiter", "echo never"));
    await waitFor(async () => (await executor.client.logs("runner")).toString() === "working\n");

    const queued = await executor.client.stopTask("waiter");
    expect(queued.status.state).toMatchObject({ terminated: { reason: "Cancelled", exitCode: 143 } });
    expect("terminated" in queued.status.state && queued.status.state.terminated.startedAt).toBeFalsy();

    await executor.client.stopTask("runner");
    const state = await waitTerminated(executor, "runner");
    expect(state).toMatchObject({ reason: "Cancelled", exitCode: 143, signal: 15 });
    expect(state.startedAt).toBeDefined();
    expect((await executor.client.logs("runner")).toString()).toBe("working\n");
    expect((await executor.client.logs("waiter")).toString()).toBe("");

    const again = await executor.client.stopTask("runner");
    expect(again.status.state).toEqual({ terminated: state });
  });

  it("a task that ignores SIGTERM is killed after the grace period and keeps its own exit code", async () => {
    await executor.client.createTask(shTask("stubborn", "trap '' TERM; echo ready; while true; do sleep 0.1; done"));
    await waitFor(async () => (await executor.client.logs("stubborn")).toString() === "ready\n");
    await executor.client.stopTask("stubborn");
    expect(await waitTerminated(executor, "stubborn")).toMatchObject({ reason: "Cancelled", exitCode: 137, signal: 9 });
  });
});
