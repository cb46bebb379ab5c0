import { readdir } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw, shTask, terminatedOf, waitTerminated } from "./helpers.js";

/** Names as a Go controller makes them: `<object name of 253 characters>-<index>`, and longer. */
const objectName = `billing-report.${"x".repeat(230)}.example.com`.slice(0, 253);
const first = `${objectName}-0`;
const second = `${objectName}-1`;
const longest = `${"l".repeat(510)}-9`;

async function taskDirs(executor: ExecutorProcess): Promise<string[]> {
  return (await readdir(executor.dataDir, { withFileTypes: true })).filter((entry) => entry.isDirectory() && !entry.name.startsWith(".")).map((entry) => entry.name);
}

describe("task names longer than a file name", () => {
  const executors: ExecutorProcess[] = [];
  afterAll(async () => {
    for (const executor of executors) await executor.kill();
  });

  it("are accepted up to 512 characters and work for get, logs, list, restart recovery, retention and delete", async () => {
    const executor = await startExecutor({ args: ["--retention-interval=1h"] });
    executors.push(executor);
    expect(first.length).toBe(255);
    const labels = { app: "long-names" };
    await executor.client.createTask({ name: first, labels, spec: { process: { command: ["sh", "-c", "echo first-out"] } } });
    expect((await waitTerminated(executor, first)).exitCode).toBe(0);
    await executor.client.createTask({ name: longest, spec: { process: { command: ["sh", "-c", "echo longest-out"] } } });
    expect((await waitTerminated(executor, longest)).exitCode).toBe(0);
    // Still running when the executor is killed: recovered by the next one through its derived directory.
    await executor.client.createTask({ ...shTask(second, "echo before; sleep 2; echo after"), labels });
    await waitFor(async () => "running" in (await executor.client.getTask(second)).status.state);

    expect((await executor.client.logs(first)).toString()).toBe("first-out\n");
    expect((await executor.client.logs(longest)).toString()).toBe("longest-out\n");
    expect((await executor.client.listTasks()).map((task) => task.name).sort()).toEqual([first, second, longest].sort());
    const dirs = await taskDirs(executor);
    expect(dirs).toHaveLength(3);
    for (const dir of dirs) expect(Buffer.byteLength(dir)).toBeLessThanOrEqual(255);
    expect((await raw(executor, "GET", `/tasks/${"l".repeat(513)}`)).status).toBe(400);

    await executor.kill();
    const restarted = await executor.restart({ args: ["--retention-interval=1h", "--retain-per-group=1"] });
    executors.push(restarted);
    expect(restarted.output.join("\n")).not.toMatch(/quarantine|moved aside/);
    const ended = terminatedOf(await restarted.client.waitForTerminated(second, 30));
    expect(ended).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect((await restarted.client.logs(second)).toString()).toBe("before\nafter\n");

    // Retention keeps one finished task of the group: the older long-named one is retired, from disk too.
    await waitFor(async () => !(await restarted.client.listTasks()).some((task) => task.name === first), 20_000, 100);
    await waitFor(async () => (await taskDirs(restarted)).length === 2);

    await restarted.client.deleteTask(longest);
    await waitFor(async () => (await taskDirs(restarted)).length === 1);
    // The directory goes before the record: a deleted task is listed (with deletionTimestamp) until it is gone.
    await waitFor(async () => (await restarted.client.listTasks()).length === 1, 20_000, 100);
    expect((await restarted.client.listTasks()).map((task) => task.name)).toEqual([second]);
  });
});
