import { randomBytes, randomInt } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, readlink, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ProcessHandle } from "@org/runtime-process";
import type { ExitResult, Logger, ProcessSpec, RuntimeHandle, RuntimeTask, TaskRuntime } from "@org/task-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { namespaceSupport, realEnvironmentRequired, startMainContainer, type MainContainerFixture } from "@org/testkit";
import { reachableCgroupProcs } from "../src/cgroups.js";
import { createSidecarRuntime } from "../src/runtime.js";
import { findHostProcess, isGone, logText, loudSkip, newTask, sleep, statField, waitGone } from "./helpers.js";

const NAMESPACES = ["mnt", "uts", "ipc", "net", "pid"] as const;
const GRACE_MS = 1000;

const unsupported = await namespaceSupport();
if (unsupported) loudSkip("sidecar runtime tests with real namespaces", unsupported);

/** A runtime plus what it needs for a test: its fixture, started tasks (removed at the end) and logged warnings. */
class Harness {
  readonly tasks: RuntimeTask[] = [];
  readonly warnings: string[] = [];
  runtime: TaskRuntime;

  constructor(readonly mainContainerName: string) {
    this.runtime = this.createRuntime();
  }

  createRuntime(): TaskRuntime {
    const logger: Logger = {
      error: () => undefined,
      warn: (message) => this.warnings.push(message),
      info: () => undefined,
      debug: () => undefined,
    };
    return createSidecarRuntime({ mainContainerName: this.mainContainerName, graceMs: GRACE_MS, maxLogBytes: 0, logger });
  }

  async task(spec: ProcessSpec): Promise<RuntimeTask> {
    const task = await newTask(`t${this.tasks.length}-${randomBytes(3).toString("hex")}`, spec);
    this.tasks.push(task);
    return task;
  }

  async run(spec: ProcessSpec): Promise<{ task: RuntimeTask; result: ExitResult; stdout: string; stderr: string }> {
    const task = await this.task(spec);
    const result = await this.runtime.wait(task, await this.runtime.start(task));
    return { task, result, stdout: await logText(task), stderr: await logText(task, "stderr.log") };
  }

  async close(): Promise<void> {
    await this.runtime.close();
    for (const task of this.tasks) await rm(task.dir, { recursive: true, force: true });
  }
}

/** `name=value` lines of a task's output. */
function fields(stdout: string): Record<string, string> {
  return Object.fromEntries(stdout.split("\n").filter((line) => line.includes("=")).map((line) => {
    const eq = line.indexOf("=");
    return [line.slice(0, eq), line.slice(eq + 1)];
  }));
}

/** A `sleep` whose argv tells it apart from every other process: `sleep 1000.<random>`. */
function uniqueSleep(): string[] {
  return ["sleep", `1000.${randomInt(10_000_000, 99_999_999)}`];
}

async function hostPidOf(argv: string[]): Promise<number> {
  return findHostProcess((cmdline) => cmdline === argv.join(" "));
}

async function waitForOutput(task: RuntimeTask, text: string): Promise<void> {
  for (let attempt = 0; attempt < 200 && !(await logText(task)).includes(text); attempt++) await sleep(50);
}

describe.skipIf(unsupported !== undefined)("sidecar runtime with a real main container", () => {
  const name = `main-${randomBytes(4).toString("hex")}`;
  let fixture: MainContainerFixture;
  let harness: Harness;

  beforeAll(async () => {
    fixture = await startMainContainer({ name, env: { APP_MODE: "prod" } });
    harness = new Harness(name);
    process.env.EXECUTOR_ONLY = "leaked";
  }, 30_000);

  afterAll(async () => {
    delete process.env.EXECUTOR_ONLY;
    await harness?.close();
    await fixture?.stop();
  });

  it("runs the task in the main container: hostname, files, environment, working directory, PIDs", async () => {
    const script = [
      'echo "hostname=$(hostname)"',
      `echo "marker=$(cat ${fixture.markerFile})"`,
      'echo "main_marker=$MAIN_MARKER"',
      'echo "app_mode=$APP_MODE"',
      'echo "own=$OWN"',
      'echo "task=$TASK_EXECUTOR_TASK"',
      'echo "executor_only=${EXECUTOR_ONLY-unset}"',
      'echo "pwd=$(pwd)"',
      'echo "self=$$"',
      "echo \"pids=$(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')\"",
      "echo \"init=$(tr '\\0' '\\n' < /proc/1/environ | grep '^MAIN_MARKER=')\"",
    ].join("\n");
    const { task, result, stdout, stderr } = await harness.run({
      command: ["sh", "-c", script],
      env: [{ name: "OWN", value: "mine" }, { name: "APP_MODE", value: "task-wins" }],
    });
    expect(stderr).toBe("");
    expect(result).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect(existsSync(fixture.markerFile)).toBe(false); // the host does not see the container's tmpfs
    const seen = fields(stdout);
    expect(seen).toMatchObject({
      hostname: fixture.hostname,
      marker: fixture.marker,
      main_marker: fixture.marker,
      app_mode: "task-wins",
      own: "mine",
      task: task.name,
      executor_only: "unset",
      pwd: fixture.dir,
      init: `MAIN_MARKER=${fixture.marker}`,
    });
    // Only the main container's PID namespace: PID 1 is the main process, and the task has a PID of it.
    const pids = (seen.pids ?? "").trim().split(" ").map(Number);
    expect(pids).toContain(1);
    expect(pids).toContain(Number(seen.self));
    const hostPids = readdirSync("/proc").filter((entry) => /^\d+$/.test(entry));
    expect(pids.length).toBeLessThan(Math.min(20, hostPids.length));
  }, 30_000);

  it("is in the main container's mnt, uts, ipc, net and pid namespaces, not the executor's", async () => {
    const { stdout } = await harness.run({ command: ["ls", "-l", "/proc/self/ns"] });
    const links = Object.fromEntries([...stdout.matchAll(/ (\S+) -> (\S+)$/gm)].map((match) => [match[1], match[2]]));
    for (const kind of NAMESPACES) {
      expect(links[kind], kind).toBe(fixture.nsIds[kind]);
      expect(links[kind], kind).not.toBe(await readlink(`/proc/self/ns/${kind}`));
    }
  }, 30_000);

  it("resolves workingDir inside the main container's file system", async () => {
    const sub = join(fixture.dir, "only-inside");
    await harness.run({ command: ["mkdir", sub] });
    expect(existsSync(sub)).toBe(false);
    const { result, stdout } = await harness.run({ command: ["pwd"], workingDir: sub });
    expect(result.exitCode).toBe(0);
    expect(stdout).toBe(`${sub}\n`);
  }, 30_000);

  it("fails with exit code 1 and nsenter's message when workingDir does not exist in the container", async () => {
    const { result, stderr } = await harness.run({ command: ["pwd"], workingDir: "/no/such/dir" });
    expect(result).toMatchObject({ exitCode: 1, reason: "Failed" });
    expect(stderr).toContain("No such file or directory");
  }, 30_000);

  it("passes the task's exit code and both output streams through", async () => {
    const { result, stdout, stderr } = await harness.run({ command: ["sh", "-c", "echo out; echo err >&2; exit 42"] });
    expect(result).toMatchObject({ exitCode: 42, reason: "Failed" });
    expect(result.startedAt).toBeDefined();
    expect(stdout).toBe("out\n");
    expect(stderr).toBe("err\n");
  }, 30_000);

  it("reports 127 when the command does not exist in the main container", async () => {
    const { result, stderr } = await harness.run({ command: ["no-such-command-here"] });
    expect(result).toMatchObject({ exitCode: 127, reason: "Failed" });
    expect(stderr).toContain("no-such-command-here");
  }, 30_000);

  it("stop kills the task's process inside the PID namespace; it is in the keeper's process group", async () => {
    const argv = uniqueSleep();
    const task = await harness.task({ command: argv });
    const handle = (await harness.runtime.start(task)) as ProcessHandle;
    const sleeper = await hostPidOf(argv);
    expect(await readlink(`/proc/${sleeper}/ns/pid`)).toBe(fixture.nsIds.pid);
    expect(Number(await statField(sleeper, 5))).toBe(handle.pid); // pgrp: the group the keeper signals
    await harness.runtime.stop(task, handle, GRACE_MS);
    const result = await harness.runtime.wait(task, handle);
    expect(result).toMatchObject({ exitCode: 143, signal: 15 });
    expect(await waitGone(sleeper)).toBe(true);
    expect(await isGone(handle.pid)).toBe(true);
  }, 30_000);

  it("stop gives the task its grace period and reports the task's own exit status", async () => {
    const argv = uniqueSleep();
    const task = await harness.task({
      command: ["sh", "-c", `trap 'echo got-term; sleep 0.3; echo cleaned-up; exit 0' TERM; echo started; ${argv.join(" ")} & wait`],
    });
    const handle = await harness.runtime.start(task);
    await waitForOutput(task, "started");
    const sleeper = await hostPidOf(argv);
    await harness.runtime.stop(task, handle, GRACE_MS);
    const result = await harness.runtime.wait(task, handle);
    expect(result).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect(await logText(task)).toBe("started\ngot-term\ncleaned-up\n");
    expect(await waitGone(sleeper)).toBe(true);
  }, 30_000);

  it("kills a task that ignores SIGTERM once the grace period is over", async () => {
    const argv = uniqueSleep();
    const task = await harness.task({ command: ["sh", "-c", `trap '' TERM; echo started; ${argv.join(" ")}`] });
    const handle = await harness.runtime.start(task);
    await waitForOutput(task, "started");
    const sleeper = await hostPidOf(argv);
    const stoppedAt = Date.now();
    await harness.runtime.stop(task, handle, GRACE_MS);
    const result = await harness.runtime.wait(task, handle);
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(GRACE_MS - 100);
    expect(result).toMatchObject({ exitCode: 137, signal: 9 });
    expect(await waitGone(sleeper)).toBe(true);
  }, 30_000);

  it("times out like a process task and leaves nothing running in the container", async () => {
    const argv = uniqueSleep();
    const task = await harness.task({ command: argv, timeoutSeconds: 1 });
    const handle = await harness.runtime.start(task);
    const sleeper = await hostPidOf(argv);
    const result = await harness.runtime.wait(task, handle);
    expect(result).toMatchObject({ exitCode: 137, reason: "TaskTimeout" });
    expect(await waitGone(sleeper)).toBe(true);
  }, 30_000);

  it("re-attaches after an executor restart: the task keeps running and can be stopped", async () => {
    const argv = uniqueSleep();
    const task = await harness.task({ command: argv });
    const handle: RuntimeHandle = await harness.runtime.start(task);
    const sleeper = await hostPidOf(argv);
    await harness.runtime.close();
    harness.runtime = harness.createRuntime();
    expect(await isGone(sleeper)).toBe(false);
    const recovered = await harness.runtime.recover(task, handle);
    expect(recovered).toMatchObject({ runtime: "sidecar" });
    // The restarted executor still finds the main container (the old task carries the marker, not the name alone).
    const { stdout } = await harness.run({ command: ["hostname"] });
    expect(stdout).toBe(`${fixture.hostname}\n`);
    await harness.runtime.stop(task, recovered!, GRACE_MS);
    const result = await harness.runtime.wait(task, recovered!);
    expect(result).toMatchObject({ exitCode: 143, signal: 15 });
    expect(await waitGone(sleeper)).toBe(true);
  }, 30_000);
});

describe.skipIf(unsupported !== undefined)("sidecar runtime: user and cgroups of the main container", () => {
  const name = `main-${randomBytes(4).toString("hex")}`;
  const cgroupName = `sidecar-test-${randomBytes(4).toString("hex")}`;
  let cgroupDir: string | undefined;
  let fixture: MainContainerFixture;
  let harness: Harness;

  beforeAll(async () => {
    fixture = await startMainContainer({ name, user: { uid: 1234, gid: 2345 } });
    harness = new Harness(name);
    // Move the main process into a cgroup of its own, so joining it is visible.
    const [procs] = (await reachableCgroupProcs(fixture.pid)).reachable;
    if (procs) {
      cgroupDir = join(dirname(procs), cgroupName);
      await mkdir(cgroupDir);
      await writeFile(join(cgroupDir, "cgroup.procs"), String(fixture.pid));
    } else if (realEnvironmentRequired()) {
      throw new Error("no cgroup.procs file of the test's cgroups is writable here; the cgroup check must run in CI");
    } else {
      loudSkip("the cgroup check", "no cgroup.procs file of the test's cgroups is writable here");
    }
  }, 30_000);

  afterAll(async () => {
    await harness?.close();
    await fixture?.stop();
    for (let attempt = 0; cgroupDir && attempt < 50; attempt++) {
      if (await rmdir(cgroupDir).then(() => true, () => false)) break;
      await sleep(100);
    }
  });

  it("runs the task as the main container's user and group, without supplementary groups", async () => {
    const { result, stdout } = await harness.run({ command: ["sh", "-c", 'echo "$(id -u) $(id -g) $(id -G)"; pwd'] });
    expect(result.exitCode).toBe(0);
    expect(stdout).toBe(`1234 2345 2345\n${fixture.dir}\n`);
  }, 30_000);

  it("puts the task into the main container's cgroups", async () => {
    if (!cgroupDir) return;
    const { stdout } = await harness.run({ command: ["cat", "/proc/self/cgroup"] });
    expect(stdout).toContain(`/${cgroupName}\n`);
    // Every hierarchy, not only the one the main process was moved in.
    expect(stdout).toBe(await readFile(`/proc/${fixture.pid}/cgroup`, "utf8"));
    expect(harness.warnings).toEqual([]);
  }, 30_000);
});

describe("sidecar runtime without a main container", () => {
  it("fails the start with MainContainerNotFound", async () => {
    const harness = new Harness(`absent-${randomBytes(4).toString("hex")}`);
    try {
      const task = await harness.task({ command: ["true"] });
      const error = await harness.runtime.start(task).then(() => undefined, (caught: unknown) => caught);
      expect(error).toMatchObject({ name: "TaskStartError", reason: "MainContainerNotFound", exitCode: 1 });
      expect((error as Error).message).toContain(`SANDBOX_MAIN_CONTAINER=${harness.mainContainerName}`);
      expect((error as Error).message).toContain("shareProcessNamespace: true");
      expect(existsSync(join(task.dir, "pid"))).toBe(false);
    } finally {
      await harness.close();
    }
  }, 30_000);
});
