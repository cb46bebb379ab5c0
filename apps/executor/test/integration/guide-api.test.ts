import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXECUTOR_VERSION } from "../../src/version.js";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw, waitTerminated } from "./helpers.js";

/** Every example of the executor guide, sent as the guide's curl commands send it. */
describe("the guide's API examples", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor();
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("GET /health answers healthy, with auth, the modes the executor runs and whether it is a sidecar", async () => {
    const reply = await raw(executor, "GET", "/health");
    expect(reply.status).toBe(200);
    expect(reply.json).toEqual({ status: "healthy", auth: "disabled", modes: ["process"], sidecar: false, version: EXECUTOR_VERSION });
    expect(await executor.client.health()).toEqual({ status: "healthy", auth: "disabled", modes: ["process"], sidecar: false, version: EXECUTOR_VERSION });
  });

  it("POST /tasks creates my-first-task, GET shows it running then terminated, output intact", async () => {
    const body = {
      name: "my-first-task",
      spec: { process: { command: ["sh", "-c"], args: ["echo \"Hello from my task!\" && sleep 1 && echo \"Task finished.\""] } },
    };
    const created = await raw(executor, "POST", "/tasks", JSON.stringify(body));
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ ...body, status: { state: { waiting: { reason: "Initialized" } } } });

    const running = await waitFor(async () => {
      const task = await executor.client.getTask("my-first-task");
      return "running" in task.status.state ? task.status.state.running : undefined;
    });
    expect(Date.parse(running.startedAt)).not.toBeNaN();

    const terminated = await waitTerminated(executor, "my-first-task");
    expect(terminated).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect(Date.parse(terminated.finishedAt)).toBeGreaterThanOrEqual(Date.parse(terminated.startedAt!));
    const logs = await executor.client.logs("my-first-task");
    expect(logs.toString()).toBe("Hello from my task!\nTask finished.\n");
  });

  it("DELETE /tasks/{name} answers 204 and the task disappears", async () => {
    await executor.client.createTask({ name: "to-delete", spec: { process: { command: ["true"] } } });
    const reply = await raw(executor, "DELETE", "/tasks/to-delete");
    expect(reply.status).toBe(204);
    await waitFor(async () => (await raw(executor, "GET", "/tasks/to-delete")).status === 404);
  });

  it("POST /setTasks creates the desired set and GET /getTasks lists it with states", async () => {
    const desired = [
      { name: "task-alpha", spec: { process: { command: ["sleep", "10"] } } },
      { name: "task-beta", spec: { process: { command: ["ls", "-l", "/tmp"] } } },
    ];
    const reply = await raw(executor, "POST", "/setTasks", JSON.stringify(desired));
    expect(reply.status).toBe(200);
    const names = (reply.json as unknown as Array<{ name: string }>).map((task) => task.name);
    expect(names).toEqual(expect.arrayContaining(["task-alpha", "task-beta"]));
    expect(await waitTerminated(executor, "task-beta")).toMatchObject({ exitCode: 0, reason: "Succeeded" });

    const list = await raw(executor, "GET", "/getTasks");
    expect(list.status).toBe(200);
    const alpha = (list.json as unknown as Array<{ name: string; status: { state: object } }>).find((task) => task.name === "task-alpha");
    expect(alpha?.status.state).toHaveProperty("running");
    // The sync drops every task not in its set, including the ones created with POST /tasks; the reply
    // still shows such a task while it is being removed, marked with deletionTimestamp.
    const dropped = (reply.json as unknown as Array<{ name: string; deletionTimestamp?: string }>).find((task) => task.name === "my-first-task");
    if (dropped) expect(dropped.deletionTimestamp).toBeDefined();
    await waitFor(async () => (await executor.client.listTasks()).every((task) => ["task-alpha", "task-beta"].includes(task.name)));
  });

  it("the sidecar example command runs as a plain process when sidecar mode is off", async () => {
    await executor.client.createTask({ name: "sidecar-namespace-check", spec: { process: { command: ["ls", "/proc/self/ns"] } } });
    expect(await waitTerminated(executor, "sidecar-namespace-check")).toMatchObject({ exitCode: 0 });
    expect((await executor.client.logs("sidecar-namespace-check")).toString()).toContain("pid");
  });
});

describe("GET /metrics", () => {
  it("serves Prometheus metrics of tasks and requests", async () => {
    const executor = await startExecutor();
    try {
      await executor.client.createTask({ name: "measured", spec: { process: { command: ["sh", "-c", "exit 2"] } } });
      await waitTerminated(executor, "measured");
      // The counters follow the task's end in the same tick as its event, which may come just after the reply.
      const reply = await waitFor(async () => {
        const scraped = await raw(executor, "GET", "/metrics");
        return /^task_executor_tasks_finished_total\{reason="Failed"\} 1$/m.test(scraped.text) ? scraped : undefined;
      }, 10_000, 50);
      expect(reply.status).toBe(200);
      expect(reply.text).toMatch(/^task_executor_tasks\{phase="terminated"\} 1$/m);
      expect(reply.text).toMatch(/^task_executor_tasks_finished_total\{reason="Failed"\} 1$/m);
      expect(reply.text).toMatch(/task_executor_http_request_duration_seconds_count\{method="POST",route="\/tasks",code="201"\} 1/);
    } finally {
      await executor.kill();
    }
  });
});
