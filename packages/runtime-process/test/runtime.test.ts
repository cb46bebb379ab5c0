// The process runtime (createProcessRuntime) with its real launcher and keepers: bounded starts, the stop's own
// grace period, outcomes learnt from notices rather than polling, the storage watcher's failures, cgroup cleanup.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TaskStartCancelledError, TaskStartError, type ExitResult, type Logger, type ProcessSpec, type RuntimeTask, type TaskRuntime } from "@org/task-core";
import { createProcessRuntime, detectCgroups, readExitFile, readPidFile, type ProcessHandle, type ProcessRuntimeOptions } from "../src/index.js";
import { parseStartTicks } from "../src/proc.js";
import { ensureGatedShimBuilt, ensureShimBuilt, GATED_SHIM, isAlive, SHIM, sleep } from "./shim-helpers.js";

ensureShimBuilt();

interface LogLine {
  level: string;
  message: string;
  meta: Record<string, unknown> | undefined;
}

function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => void lines.push({ level, message, meta });
  return { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
}

const runtimes: TaskRuntime[] = [];
const strayGroups: number[] = [];

function runtime(options: Partial<ProcessRuntimeOptions> = {}, logs: LogLine[] = []): TaskRuntime {
  const created = createProcessRuntime({ shimPath: SHIM, graceMs: 1000, maxLogBytes: 0, logger: recordingLogger(logs), ...options });
  runtimes.push(created);
  return created;
}

afterAll(async () => {
  for (const pgid of strayGroups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const created of runtimes) await created.close();
});

async function newTask(name: string, spec: ProcessSpec): Promise<RuntimeTask> {
  return { name, spec: { process: spec }, dir: await mkdtemp(join(tmpdir(), `process-runtime-${name}-`)) };
}

function sh(script: string, extra: Partial<ProcessSpec> = {}): ProcessSpec {
  return { command: ["sh", "-c", script], ...extra };
}

/** Resolves with the promise's value, or with "pending" when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | "pending"> {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([promise, new Promise<"pending">((resolve) => (timer = setTimeout(() => resolve("pending"), ms)))]);
  clearTimeout(timer);
  return result;
}

async function stdoutText(task: RuntimeTask): Promise<string> {
  const content = await readFile(join(task.dir, "stdout.log"), "utf8").catch(() => "");
  return content
    .split("\n")
    .filter(Boolean)
    .map((line) => /^\S+ \S+ [PF] (.*)$/.exec(line)?.[1] ?? "")
    .join("\n");
}

/** Pids of task-shim processes whose command line or open files point into `dir`. */
async function keepersIn(dir: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (!cmdline.split("\0")[0]?.endsWith("task-shim")) continue;
    for (const fd of await readdir(`/proc/${entry}/fd`).catch(() => [] as string[])) {
      const target = await readlink(`/proc/${entry}/fd/${fd}`).catch(() => "");
      if (target.startsWith(dir)) {
        found.push(Number(entry));
        break;
      }
    }
  }
  return found;
}

describe("process runtime: a start that hangs is bounded", () => {
  it("a keeper that never reports ends the start with StartError, is killed, and nothing runs later", { timeout: 30_000 }, async () => {
    ensureGatedShimBuilt();
    const processRuntime = runtime({ startTimeoutMs: 1500, shimPath: GATED_SHIM });
    const marker = join(await mkdtemp(join(tmpdir(), "hung-start-")), "ran");
    const task = await newTask("hung-start", sh(`touch ${marker}`));
    // The test build's keeper opens the FIFO start-gate before its pid file; without a reader that open blocks.
    execFileSync("mkfifo", [join(task.dir, "start-gate")]);
    const started = Date.now();
    const outcome = await within(
      processRuntime.start(task).then(
        () => "started",
        (error: unknown) => error,
      ),
      10_000,
    );
    expect(outcome, "start must not hang").not.toBe("pending");
    expect(outcome).toBeInstanceOf(TaskStartError);
    expect((outcome as TaskStartError).reason).toBe("StartError");
    expect((outcome as TaskStartError).message).toMatch(/did not report the start within 1.5s/);
    expect(Date.now() - started).toBeLessThan(8000);
    // The stuck keeper is gone, and unblocking what it was stuck on runs nothing.
    expect(await keepersIn(task.dir)).toEqual([]);
    const reader = await open(join(task.dir, "start-gate"), "r+");
    await sleep(1000);
    await reader.close();
    expect(existsSync(marker)).toBe(false);
    expect(JSON.parse(await readFile(join(task.dir, "pid"), "utf8"))).toMatchObject({ abandoned: true });
    // A later start of the same directory (nothing blocks its keeper now) does not run it either.
    await rm(join(task.dir, "start-gate"));
    await expect(processRuntime.start(task)).rejects.toThrow(/given up/);
    await sleep(300);
    expect(existsSync(marker)).toBe(false);
  });

  it("a hanging start given up on request ends at once, its keeper is killed, and nothing runs later", { timeout: 30_000 }, async () => {
    ensureGatedShimBuilt();
    const processRuntime = runtime({ startTimeoutMs: 20_000, shimPath: GATED_SHIM });
    const marker = join(await mkdtemp(join(tmpdir(), "cancelled-start-")), "ran");
    const task = await newTask("cancelled-start", sh(`touch ${marker}`));
    execFileSync("mkfifo", [join(task.dir, "start-gate")]);
    const abort = new AbortController();
    const starting = processRuntime.start(task, { signal: abort.signal }).then(
      () => "started",
      (error: unknown) => error,
    );
    // The keeper is forked and stuck (it holds the task directory open while its open of the FIFO blocks).
    const deadline = Date.now() + 10_000;
    let keepers: number[] = [];
    while ((keepers = await keepersIn(task.dir)).length === 0 && Date.now() < deadline) await sleep(50);
    expect(keepers, "the keeper must be stuck in the task directory").toHaveLength(1);
    const cancelledAt = Date.now();
    abort.abort();
    const outcome = await within(starting, 5000);
    expect(outcome, "a cancelled start must not wait for the start bound").not.toBe("pending");
    expect(outcome).toBeInstanceOf(TaskStartCancelledError);
    expect((outcome as Error).message).toMatch(/given up on request/);
    expect(Date.now() - cancelledAt).toBeLessThan(5000);
    // Killed at once when its FORKED report was in; else as soon as that report comes.
    for (let i = 0; i < 40 && isAlive(keepers[0]!); i++) await sleep(50);
    expect(isAlive(keepers[0]!)).toBe(false);
    expect(await keepersIn(task.dir)).toEqual([]);
    // Unblocking what the keeper was stuck on runs nothing; the directory is claimed, so no later start runs it.
    const reader = await open(join(task.dir, "start-gate"), "r+");
    await sleep(1000);
    await reader.close();
    expect(existsSync(marker)).toBe(false);
    expect(JSON.parse(await readFile(join(task.dir, "pid"), "utf8"))).toMatchObject({ abandoned: true });
    await rm(join(task.dir, "start-gate"));
    await expect(processRuntime.start(task)).rejects.toThrow(/given up/);
    await sleep(300);
    expect(existsSync(marker)).toBe(false);
  });

  it("a start whose signal is already aborted runs nothing", async () => {
    const processRuntime = runtime();
    const marker = join(await mkdtemp(join(tmpdir(), "aborted-start-")), "ran");
    const task = await newTask("aborted-start", sh(`touch ${marker}`));
    await expect(processRuntime.start(task, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(TaskStartCancelledError);
    await sleep(300);
    expect(existsSync(marker)).toBe(false);
  });

  it("the handle of a start, built from the keeper's STARTED line, is what the pid file and /proc say", { timeout: 30_000 }, async () => {
    const processRuntime = runtime();
    const task = await newTask("handle-from-started", sh("echo ready; sleep 30"));
    const handle = (await processRuntime.start(task)) as ProcessHandle;
    strayGroups.push(handle.pid);
    const pidFile = readPidFile(task.dir);
    const keeperStat = await readFile(`/proc/${handle.keeperPid}/stat`, "utf8");
    expect(handle).toEqual({
      runtime: "process",
      runId: pidFile && "keeperPid" in pidFile ? pidFile.runId : "no pid file",
      keeperPid: pidFile && "keeperPid" in pidFile ? pidFile.keeperPid : 0,
      pid: pidFile && "keeperPid" in pidFile ? pidFile.pid : 0,
      startedAt: pidFile && "keeperPid" in pidFile ? pidFile.startedAt : "",
      keeperStartTicks: parseStartTicks(keeperStat),
    });
    // What a restart rebuilds from the files is the same handle.
    const second = runtime();
    expect(await second.recover(task, undefined)).toEqual(handle);
    await second.close();
    await processRuntime.stop(task, handle, 100);
    await processRuntime.wait(task, handle);
  });

  it("a start whose keeper reported STARTED reads no file: its pid file moved away before the reply arrives changes nothing", { timeout: 30_000 }, async () => {
    const processRuntime = runtime();
    const task = await newTask("started-reads-nothing", sh("echo ready; sleep 30"));
    const pidPath = join(task.dir, "pid");
    // Between the keeper's reply and the runtime seeing it, the pid file is hidden: a runtime that fell back to
    // reading it would fail the start ("wrote no pid file").
    const launcher = (processRuntime as unknown as { launcher: { start: (...args: unknown[]) => Promise<{ kind: string }> } }).launcher;
    const start = launcher.start.bind(launcher);
    launcher.start = async (...args) => {
      const reply = await start(...args);
      await rename(pidPath, `${pidPath}.hidden`);
      return reply;
    };
    const handle = (await processRuntime.start(task)) as ProcessHandle;
    strayGroups.push(handle.pid);
    await rename(`${pidPath}.hidden`, pidPath);
    expect(handle.keeperStartTicks).toBe(parseStartTicks(await readFile(`/proc/${handle.keeperPid}/stat`, "utf8")));
    expect(readPidFile(task.dir)).toMatchObject({ runId: handle.runId, pid: handle.pid, keeperPid: handle.keeperPid, startedAt: handle.startedAt });
    await processRuntime.stop(task, handle, 100);
    await processRuntime.wait(task, handle);
  });

  it("starts normally within the bound", async () => {
    const processRuntime = runtime({ startTimeoutMs: 1500 });
    const task = await newTask("quick-start", sh("echo hi"));
    const handle = await processRuntime.start(task);
    expect((await processRuntime.wait(task, handle)).exitCode).toBe(0);
  });
});

describe("process runtime: stop(graceMs) uses the caller's grace period", () => {
  it("a longer grace than the one given at start lets a task finish its SIGTERM handler", { timeout: 30_000 }, async () => {
    const processRuntime = runtime({ graceMs: 100 });
    const task = await newTask("long-grace", sh("trap 'sleep 1; echo cleaned; exit 3' TERM; echo ready; while :; do sleep 0.1; done"));
    const handle = await processRuntime.start(task);
    strayGroups.push((handle as ProcessHandle).pid);
    await waitForText(task, "ready");
    await processRuntime.stop(task, handle, 5000);
    const result = await processRuntime.wait(task, handle);
    expect(result).toMatchObject({ exitCode: 3 });
    expect(await stdoutText(task)).toContain("cleaned");
  });

  it("a shorter grace than the one given at start kills a task before its SIGTERM handler finishes", { timeout: 60_000 }, async () => {
    const processRuntime = runtime({ graceMs: 30_000 });
    // The handler would exit 5 after a second; with the start's 30 s grace it would get to.
    const task = await newTask("short-grace", sh("trap 'sleep 1; exit 5' TERM; echo ready; while :; do sleep 0.1; done"));
    const handle = await processRuntime.start(task);
    strayGroups.push((handle as ProcessHandle).pid);
    await waitForText(task, "ready");
    // Grace 0: the keeper sends SIGKILL right after SIGTERM, whatever the load of the machine.
    await processRuntime.stop(task, handle, 0);
    const result = await within(processRuntime.wait(task, handle), 20_000);
    expect(result).not.toBe("pending");
    expect(result).toMatchObject({ exitCode: 137, signal: 9 });
  });
});

describe("process runtime: a stop whose grace period cannot be written still stops the task", () => {
  it("the keeper falls back to the start's grace period and the failure is logged", { timeout: 30_000 }, async () => {
    const logs: LogLine[] = [];
    const processRuntime = runtime({ graceMs: 100 }, logs);
    const task = await newTask("stop-file-blocked", sh("trap '' TERM; echo ready; while :; do sleep 0.1; done"));
    const handle = await processRuntime.start(task);
    strayGroups.push((handle as ProcessHandle).pid);
    await waitForText(task, "ready");
    // A directory where the stop file goes: putting the file in place fails (as it would on a full disk).
    await mkdir(join(task.dir, "stop"));
    await processRuntime.stop(task, handle, 60_000);
    const result = await within(processRuntime.wait(task, handle), 15_000);
    expect(result).toMatchObject({ exitCode: 137, signal: 9 });
    expect(logs.find((line) => line.message.includes("cannot pass the stop's grace period"))).toMatchObject({ level: "warn", meta: { task: "stop-file-blocked" } });
  });
});

async function waitForText(task: RuntimeTask, text: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await stdoutText(task)).includes(text)) {
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear in the output of ${task.name}`);
    await sleep(25);
  }
}

describe("process runtime: outcomes come from notices, not from polling every task", () => {
  it("an exit record that appears without the keeper's EXITED notice is not read until the keeper reports", { timeout: 30_000 }, async () => {
    const processRuntime = runtime({ sweepIntervalMs: 60_000 });
    const task = await newTask("no-polling", sh("echo ready; sleep 30"));
    const handle = await processRuntime.start(task);
    strayGroups.push((handle as ProcessHandle).pid);
    const waiting = processRuntime.wait(task, handle);
    await waitForText(task, "ready");
    // A polling runtime reads this within its 500 ms period and reports exit code 42 for a task that still runs.
    const fake = { runId: (handle as ProcessHandle).runId, exitCode: 42, signal: null, timedOut: false, startError: null, startedAt: new Date().toISOString(), finishedAt: new Date().toISOString() };
    await appendFile(join(task.dir, "pid"), `${JSON.stringify(fake)}\n`);
    expect(readExitFile(task.dir)).toMatchObject({ exitCode: 42 });
    expect(await within(waiting, 2500)).toBe("pending");
    // The keeper's own notice still ends the wait at once, with what the keeper recorded. (The runtime's stop would
    // see the planted exit record and leave the task alone, so the keeper is asked directly.)
    process.kill((handle as ProcessHandle).keeperPid, "SIGTERM");
    const result = await within(waiting, 10_000);
    expect(result).toMatchObject({ exitCode: 143, signal: 15 });
  });

  it("a task adopted from an earlier launcher is noticed when its exit record appears, long before the sweep", { timeout: 30_000 }, async () => {
    const gate = join(await mkdtemp(join(tmpdir(), "adopt-gate-")), "go");
    const first = runtime();
    const task = await newTask("adopted", sh(`echo ready; while [ ! -e ${gate} ]; do sleep 0.05; done; exit 4`));
    const handle = await first.start(task);
    strayGroups.push((handle as ProcessHandle).pid);
    await waitForText(task, "ready");
    await first.close();
    const second = runtime({ sweepIntervalMs: 60_000 });
    const adopted = await second.recover(task, handle);
    expect(adopted).toBeDefined();
    const waiting = second.wait(task, adopted!);
    expect(await within(waiting, 500)).toBe("pending");
    await writeFile(gate, "");
    const result = await within(waiting, 8000);
    expect(result).toMatchObject({ exitCode: 4, reason: "Failed" });
  });

  it("a keeper that dies without an exit record is noticed by the sweep (Lost)", { timeout: 30_000 }, async () => {
    const processRuntime = runtime({ sweepIntervalMs: 500 });
    const task = await newTask("keeper-killed", sh("echo ready; sleep 30"));
    const handle = (await processRuntime.start(task)) as ProcessHandle;
    strayGroups.push(handle.pid);
    await waitForText(task, "ready");
    const waiting = processRuntime.wait(task, handle);
    expect(await within(waiting, 300)).toBe("pending");
    process.kill(handle.keeperPid, "SIGKILL");
    const result = (await within(waiting, 10_000)) as ExitResult | "pending";
    expect(result).not.toBe("pending");
    expect(result).toMatchObject({ reason: "Lost" });
  });
});

describe("process runtime: the ephemeral-storage watcher never leaves a promise unhandled", () => {
  it("a marker that cannot be written is logged and the task is killed all the same", { timeout: 30_000 }, async () => {
    const logs: LogLine[] = [];
    const processRuntime = runtime({}, logs);
    const task = await newTask(
      "evict-unwritable",
      sh("head -c 3000000 /dev/zero > big; echo wrote; sleep 30", { resources: { limits: { "ephemeral-storage": "1Mi" } } }),
    );
    // The marker's path is taken by a directory, so writing it fails (as it would on a full disk).
    await mkdir(join(task.dir, "evicted"));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const handle = await processRuntime.start(task);
      strayGroups.push((handle as ProcessHandle).pid);
      const result = await within(processRuntime.wait(task, handle), 15_000);
      expect(result, "the task over its limit must be killed").not.toBe("pending");
      expect(result).toMatchObject({ exitCode: 137, signal: 9 });
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    const logged = logs.find((line) => line.message.includes("cannot record the eviction"));
    expect(logged).toMatchObject({ level: "error", meta: { task: "evict-unwritable" } });
  });
});

const cgroups = await detectCgroups();

// Without usable cgroups this suite is skipped, except with REQUIRE_REAL_ENV=1 (CI), where it fails instead.
if (cgroups === undefined && process.env.REQUIRE_REAL_ENV !== "1") console.warn("\n*** process runtime cgroup tests SKIPPED: no usable cgroups ***\n");
describe.runIf(cgroups !== undefined || process.env.REQUIRE_REAL_ENV === "1")("process runtime: task cgroups", () => {
  it("a start refused because another keeper owns the task directory leaves no cgroup behind", async () => {
    expect(cgroups, "cgroups must be usable here").toBeDefined();
    const parents = cgroups!.version === "v1" ? Object.values(cgroups!.parents) : [cgroups!.parent];
    const before = await Promise.all(parents.map((parent) => taskCgroups(parent)));
    const owner = runtime();
    const task = await newTask("owned-elsewhere", sh("echo ready; sleep 30"));
    const ownerHandle = (await owner.start(task)) as ProcessHandle;
    strayGroups.push(ownerHandle.pid);
    const limited = runtime({ cgroups: cgroups! });
    const limitedTask = { ...task, spec: { process: sh("echo second", { resources: { limits: { pids: 20 } } }) } };
    const adopted = (await limited.start(limitedTask)) as ProcessHandle;
    expect(adopted.runId).toBe(ownerHandle.runId);
    expect(adopted.cgroupDirs).toBeUndefined();
    const after = await Promise.all(parents.map((parent) => taskCgroups(parent)));
    expect(after).toEqual(before);
    await owner.stop(task, ownerHandle, 0);
    await owner.wait(task, ownerHandle);
    expect(isAlive(ownerHandle.pid)).toBe(false);
  });
});

async function taskCgroups(parent: string): Promise<string[]> {
  return (await readdir(parent, { withFileTypes: true }).catch(() => [])).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}
