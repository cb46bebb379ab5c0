import { constants } from "node:fs";
import { mkdir, open, readdir, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPidFile } from "@org/runtime-process";
import { realEnvironmentRequired, startExecutor, tempDir, waitFor, type ExecutorProcess } from "@org/testkit";
import { isErrorBody, rawRequest, run, shTask, terminatedOf } from "./support.js";

/** The pid file of a task directory; undefined when it is missing or unreadable (the cleanup takes what it can). */
function pidFileOrNone(dir: string) {
  try {
    return readPidFile(dir);
  } catch {
    return undefined;
  }
}

/**
 * The data dir on a small file system that the test fills up: creating tasks answers 507 InsufficientStorage,
 * running tasks and stored state are unharmed, a task that ends while the disk is full still gets its true exit
 * code (the keeper's exit record needs no new space), and everything works again after.
 */
async function mountSmallFileSystem(dir: string, image: string): Promise<string | undefined> {
  const tmpfs = await run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", dir]);
  if (tmpfs.code === 0) return "tmpfs";
  console.warn(`disk-full: cannot mount tmpfs (${tmpfs.output.trim()}); trying a loop-mounted ext4 image`);
  const steps: Array<[string, string[]]> = [
    ["truncate", ["-s", "8M", image]],
    ["mkfs.ext4", ["-q", "-F", image]],
    ["mount", ["-o", "loop", image, dir]],
  ];
  for (const [command, args] of steps) {
    const result = await run(command, args);
    if (result.code !== 0) {
      console.warn(`disk-full: ${command} failed: ${result.output.trim()}`);
      return undefined;
    }
  }
  return "ext4 loop image";
}

/** Writes zeros until the file system refuses even one more byte. */
async function fill(path: string): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND);
  try {
    for (const size of [1 << 16, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw error;
        }
      }
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function signalGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

describe("disk full: the data dir runs out of space", () => {
  let root = "";
  let dataDir = "";
  let mounted: string | undefined;
  let executor: ExecutorProcess | undefined;

  beforeAll(async () => {
    root = await tempDir("disk-full-");
    dataDir = join(root, "data");
    await mkdir(dataDir);
    mounted = await mountSmallFileSystem(dataDir, join(root, "fs.img"));
    if (!mounted) {
      // In CI (REQUIRE_REAL_ENV=1) a full disk must be tested: not being able to make one is a failure.
      if (realEnvironmentRequired()) throw new Error("disk-full: neither a tmpfs nor a loop-mounted ext4 file system could be mounted");
      console.warn("\n*** disk-full: SKIPPED: neither a tmpfs nor a loop-mounted ext4 file system could be mounted ***\n");
      return;
    }
    executor = await startExecutor({ dataDir, args: ["--stop-grace-period=1s", "--retain-per-group=0"] });
  });

  afterAll(async () => {
    // Tasks still running hold their log files on the mount: end their process groups before unmounting.
    for (const entry of mounted ? await readdir(dataDir).catch(() => []) : []) {
      const pidFile = pidFileOrNone(join(dataDir, entry));
      const pid = pidFile && !pidFile.abandoned ? pidFile.pid : undefined;
      if (pid) signalGroup(pid);
    }
    await executor?.kill();
    if (mounted) {
      // Keepers may still hold files open for a moment after their task ended.
      const unmounted = await waitFor(async () => (await run("umount", [dataDir])).code === 0, 20_000, 250).catch(() => false);
      if (!unmounted) await run("umount", ["-l", dataDir]);
    }
    if (root) await rm(root, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown) =>
    rawRequest(executor!.url, { method: "POST", path, body: JSON.stringify(body), headers: { "content-type": "application/json" } });

  it("507 while full; running tasks and state unharmed; exit codes arrive once space returns; creating works again", { timeout: 150_000 }, async (context) => {
    if (!mounted || !executor) return context.skip();
    console.log(`disk-full: data dir on a ${mounted}`);
    const gate = join(root, "go");
    await executor.client.createTask(shTask("before-fill", `echo started; while [ ! -e ${gate} ]; do sleep 0.1; done; exit 7`));
    await executor.client.createTask(shTask("done-before", "echo early; exit 5"));
    await waitFor(async () => (await executor!.client.logs("before-fill")).toString() === "started\n", 20_000);
    await waitFor(async () => terminatedOf(await executor!.client.getTask("done-before")), 20_000);

    const filler = join(dataDir, "filler");
    await fill(filler);

    const refused = await post("/tasks", shTask("during-fill", "exit 0"));
    expect(refused.status).toBe(507);
    expect(isErrorBody(refused.json)).toBe(true);
    expect(refused.json).toMatchObject({ code: "InsufficientStorage" });
    expect((refused.json as { message: string }).message).toMatch(/full/);
    // Nothing half-made is left behind: the same create is refused the same way, not as a duplicate.
    expect((await post("/tasks", shTask("during-fill", "exit 0"))).status).toBe(507);
    expect(await readdir(dataDir)).not.toContain("during-fill");
    expect((await executor.client.listTasks()).map((task) => task.name)).toEqual(["before-fill", "done-before"]);

    // Reads keep working, and the running task is unaffected.
    expect((await executor.client.getTask("before-fill")).status.state).toHaveProperty("running");
    expect(terminatedOf(await executor.client.getTask("done-before"))).toMatchObject({ exitCode: 5, reason: "Failed" });
    expect((await executor.client.logs("done-before")).toString()).toBe("early\n");

    // The task ends while the disk is full: its exit record is appended to its pid file, into the block that file
    // already holds, so the true exit code is recorded and reported at once, full disk or not.
    await writeFile(gate, "");
    expect(terminatedOf(await executor.client.waitForTerminated("before-fill", 30))).toMatchObject({ exitCode: 7, reason: "Failed" });
    expect(executor.output.filter((line) => line.includes("cannot write the exit record"))).toEqual([]);
    await unlink(filler);

    const again = await post("/tasks", shTask("after-fill", "echo ok; exit 0"));
    expect(again.status).toBe(201);
    expect(terminatedOf(await executor.client.waitForTerminated("after-fill", 30))).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect((await executor.client.logs("after-fill")).toString()).toBe("ok\n");

    // What was stored during all this reads back the same after a restart.
    await executor.kill();
    executor = await executor.restart();
    const states = Object.fromEntries((await executor.client.listTasks()).map((task) => [task.name, terminatedOf(task)?.exitCode]));
    expect(states).toEqual({ "before-fill": 7, "done-before": 5, "after-fill": 0 });
  });

  it("a stop or delete refused with 507 while full can be retried once space returns", { timeout: 90_000 }, async (context) => {
    if (!mounted || !executor) return context.skip();
    await executor.client.createTask(shTask("stop-me", "sleep 60"));
    await executor.client.createTask(shTask("delete-me", "sleep 60"));
    await waitFor(async () => (await executor!.client.listTasks()).every((task) => !("waiting" in task.status.state)), 20_000);
    const filler = join(dataDir, "filler");
    await fill(filler);
    const stop = await rawRequest(executor.url, { method: "POST", path: "/tasks/stop-me/stop" });
    const remove = await rawRequest(executor.url, { method: "DELETE", path: "/tasks/delete-me" });
    expect([stop.status, remove.status]).toEqual([507, 507]);
    expect(stop.json).toMatchObject({ code: "InsufficientStorage" });
    await unlink(filler);

    // Refused means nothing changed, so repeating the call once space returns does the job.
    const outcome = { stopped: "no", deleted: "no" };
    await executor.client.stopTask("stop-me");
    const stopped = terminatedOf(await executor.client.waitForTerminated("stop-me", 10));
    outcome.stopped = stopped ? stopped.reason : "still running after a repeated stop";
    await executor.client.deleteTask("delete-me");
    const gone = await waitFor(async () => (await rawRequest(executor!.url, { path: "/tasks/delete-me" })).status === 404, 10_000).catch(() => false);
    const after = await executor.client.getTask("delete-me").catch(() => undefined);
    outcome.deleted = gone ? "gone" : `still listed (deletionTimestamp ${after?.deletionTimestamp}, state ${JSON.stringify(after?.status.state)})`;
    expect(outcome).toEqual({ stopped: "Cancelled", deleted: "gone" });
  });
});
