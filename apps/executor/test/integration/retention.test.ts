import { readdir } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { shTask } from "./helpers.js";
import { recordEvents } from "./sse.js";

async function createMany(executor: ExecutorProcess, prefix: string, count: number, labels: Record<string, string>) {
  const names: string[] = [];
  for (let i = 0; i < count; i += 20) {
    const batch = Array.from({ length: Math.min(20, count - i) }, (_, j) => `${prefix}-${String(i + j).padStart(4, "0")}`);
    for (const name of batch) await executor.client.createTask({ name, labels, spec: { process: { command: ["true"] } } });
    names.push(...batch);
  }
  return names;
}

describe("retention", () => {
  const executors: ExecutorProcess[] = [];
  afterAll(async () => {
    for (const executor of executors) await executor.kill();
  });

  it("keeps the newest 500 tasks per group; the oldest go from the API and from disk with a deleted event", async () => {
    const executor = await startExecutor({ args: ["--retention-interval=1h"] });
    executors.push(executor);
    const events = await recordEvents(`${executor.url}/events`);
    const names = await createMany(executor, "job", 520, { app: "billing" });
    await executor.client.createTask({ name: "other-app", labels: { "app.kubernetes.io/name": "search" }, spec: { process: { command: ["true"] } } });
    await waitFor(async () => (await executor.client.listTasks()).filter((task) => task.labels?.app === "billing").length === 500, 60_000, 200);
    const left = (await executor.client.listTasks()).map((task) => task.name);
    expect(left).toEqual(expect.arrayContaining(names.slice(20)));
    for (const gone of names.slice(0, 20)) expect(left).not.toContain(gone);
    expect(left).toContain("other-app");
    const onDisk = await readdir(executor.dataDir);
    for (const gone of names.slice(0, 20)) expect(onDisk).not.toContain(gone);
    await waitFor(() => events.events.filter((event) => event.type === "deleted").length === 20);
    expect(events.events.find((event) => event.type === "deleted")?.reason).toBe("Retention:count");
    events.close();
  });

  it("retires finished tasks after --finished-task-ttl, never running ones", async () => {
    const executor = await startExecutor({ args: ["--finished-task-ttl=1s", "--retention-interval=200ms"] });
    executors.push(executor);
    await executor.client.createTask(shTask("short", "true"));
    await executor.client.createTask(shTask("long-runner", "sleep 30"));
    await waitFor(async () => !(await executor.client.listTasks()).some((task) => task.name === "short"), 15_000, 100);
    expect((await executor.client.listTasks()).map((task) => task.name)).toEqual(["long-runner"]);
  });

  it("keeps the data dir within --max-data-dir-bytes by retiring the oldest finished tasks", async () => {
    const executor = await startExecutor({ args: ["--max-data-dir-bytes=200Ki", "--retention-interval=200ms"] });
    executors.push(executor);
    for (let i = 0; i < 6; i++) {
      await executor.client.createTask(shTask(`big-${i}`, "head -c 60000 /dev/zero | tr '\\0' x; echo"));
      await waitFor(async () => "terminated" in (await executor.client.getTask(`big-${i}`)).status.state);
    }
    await waitFor(async () => (await executor.client.listTasks()).length <= 3, 15_000, 100);
    const left = (await executor.client.listTasks()).map((task) => task.name);
    expect(left).toContain("big-5");
    expect(left).not.toContain("big-0");
  });

  it("leaves tasks of the /setTasks desired set alone", async () => {
    const executor = await startExecutor({ args: ["--retain-per-group=2", "--retention-interval=200ms"] });
    executors.push(executor);
    const desired = Array.from({ length: 4 }, (_, i) => ({ ...shTask(`synced-${i}`, "true"), labels: { app: "sync" } }));
    await executor.client.setTasks(desired);
    await createMany(executor, "api", 3, { app: "sync" });
    await waitFor(async () => (await executor.client.listTasks()).every((task) => "terminated" in task.status.state));
    // The two newest (api-0002, api-0001) hold the group's places; the synced tasks are protected even
    // though they are past their places; only api-0000 goes.
    await waitFor(async () => !(await executor.client.listTasks()).some((task) => task.name === "api-0000"), 10_000, 100);
    const names = (await executor.client.listTasks()).map((task) => task.name);
    expect(names).toEqual(["synced-0", "synced-1", "synced-2", "synced-3", "api-0001", "api-0002"]);
  });
});
