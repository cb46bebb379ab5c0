import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { rawRequest, shTask, terminatedOf } from "./support.js";

/**
 * A start whose keeper never reports (here: its stdout.log is a FIFO nobody reads, so the keeper's open blocks) is
 * bounded: the task ends StartError with a message, its concurrency slot is freed, and stop and delete of such a
 * starting task complete. The process runtime's bound is 20 s.
 */
const START_BOUND_S = 20;
const executors: ExecutorProcess[] = [];

afterAll(async () => {
  for (const executor of executors) await executor.kill();
});

describe("a start that hangs", () => {
  it("ends StartError within the bound, frees its slot, and stop and delete of starting tasks complete", { timeout: 4 * START_BOUND_S * 1000 + 60_000 }, async () => {
    const executor = await startExecutor({ args: ["--max-concurrent-tasks=1", "--stop-grace-period=1s"] });
    executors.push(executor);
    const client = executor.client;
    await client.createTask(shTask("holder", "echo up; sleep 600"));
    await waitFor(async () => (await client.logs("holder")).toString() === "up\n", 20_000);
    for (const name of ["stuck-stop", "stuck-delete", "after"]) await client.createTask(shTask(name, `echo ${name}`));
    for (const name of ["stuck-stop", "stuck-delete"]) execFileSync("mkfifo", [join(executor.dataDir, name, "stdout.log")]);
    const queued = await client.getTask("stuck-stop");
    expect(queued.status.state).toMatchObject({ waiting: { reason: "Queued" } });

    // The holder goes; "stuck-stop" starts and its keeper hangs. A stop while it is starting completes.
    await client.stopTask("holder");
    await waitFor(async () => terminatedOf(await client.getTask("holder")), 20_000);
    const stopReply = await rawRequest(executor.url, { method: "POST", path: "/tasks/stuck-stop/stop" });
    expect(stopReply.status).toBe(200);
    const stopped = terminatedOf(await client.waitForTerminated("stuck-stop", START_BOUND_S + 20));
    expect(stopped, "a starting task that was stopped must end").toBeDefined();
    expect(stopped).toMatchObject({ reason: "StartError", exitCode: 1 });
    expect(stopped!.message).toMatch(/did not report the start within 20s/);

    // Its slot was freed: the next one starts (and hangs as well); a delete while it is starting completes.
    await waitFor(async () => !("waiting" in (await client.getTask("stuck-delete")).status.state), 20_000);
    const deleteReply = await rawRequest(executor.url, { method: "DELETE", path: "/tasks/stuck-delete" });
    expect(deleteReply.status).toBe(204);
    const gone = await waitFor(async () => (await rawRequest(executor.url, { path: "/tasks/stuck-delete" })).status === 404, (START_BOUND_S + 20) * 1000, 200).catch(() => false);
    expect(gone, "a starting task that was deleted must go").toBe(true);

    // And the queue moves on.
    expect(terminatedOf(await client.waitForTerminated("after", 60))).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect((await client.logs("after")).toString()).toBe("after\n");
    expect(executor.child.exitCode).toBeNull();
  });
});
