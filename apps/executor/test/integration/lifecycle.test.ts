import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { pidAlive, raw, shTask, terminatedOf, waitTerminated } from "./helpers.js";

describe("process task lifecycle", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    // A reconcile interval of an hour proves that status changes are event-driven, not polled.
    executor = await startExecutor({ args: ["--reconcile-interval=1h", "--stop-grace-period=2s"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("reports the exit code: Succeeded for 0, Failed otherwise", async () => {
    await executor.client.createTask(shTask("exit-0", "exit 0"));
    await executor.client.createTask(shTask("exit-42", "exit 42"));
    expect(await waitTerminated(executor, "exit-0")).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect(await waitTerminated(executor, "exit-42")).toMatchObject({ exitCode: 42, reason: "Failed" });
  });

  it("a process killed by a signal reports 128 + signal", async () => {
    await executor.client.createTask(shTask("killed", "kill -9 $$"));
    expect(await waitTerminated(executor, "killed")).toMatchObject({ exitCode: 137, signal: 9, reason: "Failed" });
  });

  it("passes env on top of the executor's env and honours workingDir", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wd-"));
    await executor.client.createTask(shTask("env-wd", 'echo "$GREETING $PATH_SET"; pwd', { env: [{ name: "GREETING", value: "hi there" }, { name: "PATH_SET", value: String(Boolean(process.env.PATH)) }], workingDir: dir }));
    expect(await waitTerminated(executor, "env-wd")).toMatchObject({ exitCode: 0 });
    expect((await executor.client.logs("env-wd")).toString()).toBe(`hi there true\n${dir}\n`);
  });

  it("a missing binary is StartError with exit code 127 and names the command", async () => {
    await executor.client.createTask({ name: "missing-bin", spec: { process: { command: ["/no/such/binary"] } } });
    const state = await waitTerminated(executor, "missing-bin");
    expect(state).toMatchObject({ exitCode: 127, reason: "StartError" });
    expect(state.message).toContain("/no/such/binary");
  });

  it("a file that is not executable is StartError with exit code 126", async () => {
    const file = join(await mkdtemp(join(tmpdir(), "noexec-")), "script");
    await writeFile(file, "echo hi\n");
    await chmod(file, 0o644);
    await executor.client.createTask({ name: "not-exec", spec: { process: { command: [file] } } });
    expect(await waitTerminated(executor, "not-exec")).toMatchObject({ exitCode: 126, reason: "StartError" });
  });

  it("a missing working dir is StartError naming the directory", async () => {
    await executor.client.createTask({ name: "bad-wd", spec: { process: { command: ["true"], workingDir: "/no/such/dir" } } });
    const state = await waitTerminated(executor, "bad-wd");
    expect(state.reason).toBe("StartError");
    expect(state.message).toContain("/no/such/dir");
  });

  it("timeoutSeconds kills the task: TaskTimeout with exit code 137", async () => {
    await executor.client.createTask(shTask("times-out", "echo started; sleep 30", { timeoutSeconds: 1 }));
    const state = await waitTerminated(executor, "times-out");
    expect(state).toMatchObject({ exitCode: 137, reason: "TaskTimeout" });
    expect((await executor.client.logs("times-out")).toString()).toBe("started\n");
  });

  it("DELETE of a running sleep answers at once, shows deletionTimestamp, kills the process and removes the task", async () => {
    await executor.client.createTask(shTask("sleeper", "echo $$; exec sleep 300"));
    const pid = await waitFor(async () => {
      const text = (await executor.client.logs("sleeper")).toString().trim();
      return text ? Number(text) : undefined;
    });
    expect(pidAlive(pid)).toBe(true);
    expect((await raw(executor, "DELETE", "/tasks/sleeper")).status).toBe(204);
    const listed = (await executor.client.listTasks()).find((task) => task.name === "sleeper");
    if (listed) expect(listed.deletionTimestamp).toBeDefined();
    await waitFor(async () => (await raw(executor, "GET", "/tasks/sleeper")).status === 404);
    expect(pidAlive(pid)).toBe(false);
  });

  it("accepts the legacy shape and answers with process and processStatus too", async () => {
    const reply = await raw(executor, "POST", "/tasks", JSON.stringify({ name: "legacy", process: { command: ["sh", "-c", "exit 5"], timeoutSeconds: 30 } }));
    expect(reply.status).toBe(201);
    expect(reply.json).toMatchObject({
      name: "legacy",
      process: { command: ["sh", "-c", "exit 5"], timeoutSeconds: 30 },
      processStatus: { waiting: { reason: "Initialized" } },
      spec: { process: { command: ["sh", "-c", "exit 5"] } },
    });
    await waitTerminated(executor, "legacy");
    const task = await raw(executor, "GET", "/tasks/legacy");
    expect(task.json).toMatchObject({ processStatus: { terminated: { exitCode: 5, reason: "Failed" } } });
  });

  it("a desired name whose previous task is still stopping is created again once the old one is gone", async () => {
    const trapping = shTask("phoenix", "trap 'sleep 1; exit 0' TERM; echo up; while true; do sleep 0.1; done");
    await executor.client.setTasks([trapping]);
    await waitFor(async () => (await executor.client.logs("phoenix")).toString() === "up\n");
    const dropped = await executor.client.setTasks([]);
    expect(dropped.find((task) => task.name === "phoenix")?.deletionTimestamp).toBeDefined();
    const again = await executor.client.setTasks([shTask("phoenix", "echo second")]);
    expect(again.find((task) => task.name === "phoenix")?.deletionTimestamp).toBeDefined();
    await waitFor(async () => {
      const task = await executor.client.getTask("phoenix").catch(() => undefined);
      return task && !task.deletionTimestamp && terminatedOf(task)?.exitCode === 0 ? task : undefined;
    });
    expect((await executor.client.logs("phoenix")).toString()).toBe("second\n");
  });
});

describe("concurrency limit", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--max-concurrent-tasks=2"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("runs at most N at once; the rest wait as Queued and start in arrival order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "order-"));
    const names = ["q0", "q1", "q2", "q3", "q4"];
    for (const name of names) {
      await executor.client.createTask(shTask(name, `echo ${name} >> ${dir}/order; sleep 0.5`));
    }
    const queued = (await executor.client.listTasks()).filter((task) => "waiting" in task.status.state && task.status.state.waiting.reason === "Queued");
    expect(queued.length).toBeGreaterThanOrEqual(1);
    let maxRunning = 0;
    await waitFor(async () => {
      const tasks = await executor.client.listTasks();
      maxRunning = Math.max(maxRunning, tasks.filter((task) => "running" in task.status.state).length);
      return tasks.every((task) => "terminated" in task.status.state);
    }, 30_000, 20);
    expect(maxRunning).toBeLessThanOrEqual(2);
    const { readFile } = await import("node:fs/promises");
    const order = (await readFile(join(dir, "order"), "utf8")).trim().split("\n");
    // Started in arrival order, two at a time: q0 and q1 first, then q2 and q3 (their slots free together, so the
    // two may write their line in either order), then q4.
    expect(order.slice(0, 2).sort()).toEqual(["q0", "q1"]);
    expect(order.slice(2, 4).sort()).toEqual(["q2", "q3"]);
    expect(order[4]).toBe("q4");
  });
});
