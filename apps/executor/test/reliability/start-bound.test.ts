import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, open, readdir, readFile, readlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { gatedTaskShim } from "./gated-shim.js";
import { rawRequest, shTask, terminatedOf } from "./support.js";

/**
 * A start whose keeper never reports (here: a test build of the shim whose keeper opens the FIFO start-gate in the
 * task directory before it owns the task; nobody reads it, so the open blocks) is
 * bounded: the task ends StartError with a message and its concurrency slot is freed. A stop or delete of such a
 * starting task takes effect at once, not when the bound fires: the start is given up, the keeper killed, and
 * nothing of the task runs later. The process runtime's bound is 20 s.
 */
const START_BOUND_S = 20;
/** A stop or delete of a starting task must be done well inside the start bound (generous for a loaded machine). */
const PROMPT_MS = 8000;
const executors: ExecutorProcess[] = [];

afterAll(async () => {
  for (const executor of executors) await executor.kill();
});

/** Pids of task-shim processes holding a file in `dir` open (a stuck keeper holds its task directory). */
async function keepersIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0")[0]?.endsWith("task-shim")) continue;
    for (const fd of await readdir(`/proc/${entry}/fd`).catch(() => [] as string[])) {
      if ((await readlink(`/proc/${entry}/fd/${fd}`).catch(() => "")).startsWith(dir)) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}

/** Waits until the task's keeper is stuck in its directory; returns its pid. */
async function stuckKeeper(taskDir: string): Promise<number> {
  let pids: number[] = [];
  await waitFor(async () => (pids = await keepersIn(taskDir)).length > 0, 20_000, 50);
  expect(pids).toHaveLength(1);
  return pids[0]!;
}

describe("a start that hangs", () => {
  it("ends StartError within the bound and frees its slot; stop and delete of a starting task take effect at once", { timeout: 3 * START_BOUND_S * 1000 + 60_000 }, async () => {
    const executor = await startExecutor({ args: ["--max-concurrent-tasks=1", "--stop-grace-period=1s", `--task-shim-path=${gatedTaskShim()}`] });
    executors.push(executor);
    const client = executor.client;
    const markers = await mkdtemp(join(tmpdir(), "start-bound-"));
    const ran = (name: string) => existsSync(join(markers, name));
    await client.createTask(shTask("holder", "echo up; sleep 600"));
    await waitFor(async () => (await client.logs("holder")).toString() === "up\n", 20_000);
    const stuck = ["stuck-bound", "stuck-stop", "stuck-delete"];
    for (const name of [...stuck, "after"]) await client.createTask(shTask(name, `touch ${join(markers, name)}; echo ${name}`));
    for (const name of stuck) execFileSync("mkfifo", [join(executor.dataDir, name, "start-gate")]);
    expect((await client.getTask("stuck-bound")).status.state).toMatchObject({ waiting: { reason: "Queued" } });

    // The holder goes; "stuck-bound" starts, its keeper hangs, and nobody touches it: the bound ends it.
    await client.stopTask("holder");
    await waitFor(async () => terminatedOf(await client.getTask("holder")), 20_000);
    const bounded = terminatedOf(await client.waitForTerminated("stuck-bound", START_BOUND_S + 20));
    expect(bounded).toMatchObject({ reason: "StartError", exitCode: 1 });
    expect(bounded!.message).toMatch(/did not report the start within 20s/);

    // Its slot was freed: "stuck-stop" starts and hangs. A stop while it is starting ends it Cancelled at once.
    const stopKeeper = await stuckKeeper(join(executor.dataDir, "stuck-stop"));
    const stopAsked = Date.now();
    const stopReply = await rawRequest(executor.url, { method: "POST", path: "/tasks/stuck-stop/stop" });
    expect(stopReply.status).toBe(200);
    const stopped = terminatedOf(await client.waitForTerminated("stuck-stop", PROMPT_MS / 1000));
    expect(stopped, "a starting task that was stopped must end at once").toBeDefined();
    expect(Date.now() - stopAsked).toBeLessThan(PROMPT_MS);
    expect(stopped).toMatchObject({ reason: "Cancelled", exitCode: 143 });
    expect(stopped).not.toHaveProperty("startedAt");
    await waitFor(async () => !(await pidRunning(stopKeeper)), 2000, 50);
    expect(await keepersIn(join(executor.dataDir, "stuck-stop"))).toEqual([]);

    // The next one starts and hangs; a delete while it is starting removes it at once.
    const deleteKeeper = await stuckKeeper(join(executor.dataDir, "stuck-delete"));
    const deleteAsked = Date.now();
    const deleteReply = await rawRequest(executor.url, { method: "DELETE", path: "/tasks/stuck-delete" });
    expect(deleteReply.status).toBe(204);
    const gone = await waitFor(async () => (await rawRequest(executor.url, { path: "/tasks/stuck-delete" })).status === 404, PROMPT_MS, 100).catch(() => false);
    expect(gone, "a starting task that was deleted must go at once").toBe(true);
    expect(Date.now() - deleteAsked).toBeLessThan(PROMPT_MS);
    await waitFor(async () => !(await pidRunning(deleteKeeper)), 2000, 50);

    // And the queue moves on.
    expect(terminatedOf(await client.waitForTerminated("after", 60))).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect((await client.logs("after")).toString()).toBe("after\n");

    // Unblocking what the stopped task's keeper was stuck on runs nothing, now or later.
    const reader = await open(join(executor.dataDir, "stuck-stop", "start-gate"), "r+");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await reader.close();
    expect(stuck.filter(ran)).toEqual([]);
    expect(terminatedOf(await client.getTask("stuck-stop"))).toMatchObject({ reason: "Cancelled" });
    expect(executor.child.exitCode).toBeNull();
  });
});

/** True while `pid` is a live (not zombie) process. */
async function pidRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (!stat) return false;
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}
