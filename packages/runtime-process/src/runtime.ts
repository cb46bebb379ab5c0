import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  LOST_EXIT_CODE,
  needsCgroup,
  parseQuantity,
  silentLogger,
  specTimeoutSeconds,
  TaskStartError,
  type ExitResult,
  type LogFile,
  type Logger,
  type RuntimeHandle,
  type RuntimeObservation,
  type RuntimeTask,
  type TaskRuntime,
} from "@org/task-core";
import { cgroupOomKilled, createTaskCgroup, removeTaskCgroup, type CgroupSupport } from "./cgroups.js";
import { readExitFile, readPidFile, TaskFiles, type ExitFile, type PidFile } from "./files.js";
import { Launcher } from "./launcher.js";
import { outcomeFromExitFile } from "./outcome.js";
import { defaultLaunchPlan, type LaunchPlanner } from "./plan.js";
import { keeperStartTicks, signalQuietly } from "./proc.js";
import { watchEphemeralStorage } from "./storage-watch.js";

export interface ProcessRuntimeOptions {
  /** Runtime name stored in handles (default `process`). */
  name?: string;
  /** Path of the task-shim binary (default: the one built into this package). */
  shimPath?: string;
  /** SIGTERM → SIGKILL grace on stop and timeout. */
  graceMs: number;
  /** Cap of a task's log files together; 0 = unlimited. */
  maxLogBytes: number;
  logger?: Logger;
  /** Rewrites what is launched (sidecar mode). */
  planLaunch?: LaunchPlanner;
  /** How often tasks not started by this launcher are checked for their exit (default 500 ms). */
  pollIntervalMs?: number;
  /** Where task cgroups go; without it, tasks with resource limits cannot be started (see detectCgroups). */
  cgroups?: CgroupSupport;
}

/** What the process runtime persists for a started task. */
export interface ProcessHandle extends RuntimeHandle {
  runId: string;
  keeperPid: number;
  /**
   * Start time of the keeper, so a process that reused its pid is never signalled; null when no keeper was
   * found when the task was adopted (it is gone).
   */
  keeperStartTicks: string | null;
  pid: number;
  startedAt: string;
  /** The task's own cgroup directories (resource limits), removed once it ended. */
  cgroupDirs?: string[];
}

interface ExitWaiter {
  task: RuntimeTask;
  handle: ProcessHandle;
  promise: Promise<ExitResult>;
  resolve: (result: ExitResult) => void;
  stopStorageWatch: (() => void) | undefined;
}

export const DEFAULT_SHIM_PATH = fileURLToPath(new URL("./task-shim", import.meta.url));

/** Creates the process runtime: tasks run as host processes under a task-shim keeper each. */
export function createProcessRuntime(options: ProcessRuntimeOptions): TaskRuntime {
  return new ProcessRuntime(options);
}

class ProcessRuntime implements TaskRuntime {
  readonly name: string;
  private readonly launcher: Launcher;
  private readonly logger: Logger;
  private readonly waiters = new Map<string, ExitWaiter>();
  private poller: NodeJS.Timeout | undefined;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.name = options.name ?? "process";
    this.logger = options.logger ?? silentLogger;
    const shimPath = options.shimPath ?? DEFAULT_SHIM_PATH;
    if (!existsSync(shimPath)) throw new Error(`task shim not found at ${shimPath}; build @org/runtime-process first`);
    this.launcher = new Launcher(shimPath, (runId) => void this.checkWaiter(runId), this.logger);
  }

  async start(task: RuntimeTask): Promise<RuntimeHandle> {
    const base = defaultLaunchPlan(task);
    const plan = this.options.planLaunch ? await this.options.planLaunch(task, base) : base;
    const runId = randomUUID();
    const limits = task.spec.process?.resources?.limits;
    if (limits?.["ephemeral-storage"] && plan.workingDir === "") {
      // A task with a storage budget gets its own scratch dir, so what it writes is counted.
      plan.workingDir = join(task.dir, TaskFiles.scratch);
      await mkdir(plan.workingDir, { recursive: true });
    }
    let cgroupDirs: string[] = [];
    if (limits && needsCgroup(limits)) {
      if (!this.options.cgroups) throw new TaskStartError("StartError", "resource limits need cgroups, which are not available to this executor", 1);
      cgroupDirs = await createTaskCgroup(this.options.cgroups, runId, limits);
      // Joined last, so the task's own limits win over a cgroup the plan joined before (sidecar mode).
      plan.cgroupProcs = [...plan.cgroupProcs, ...cgroupDirs.map((dir) => join(dir, "cgroup.procs"))];
    }
    const reply = await this.launcher.start({
      runId,
      taskDir: task.dir,
      workingDir: plan.workingDir,
      timeoutMs: specTimeoutSeconds(task.spec) * 1000,
      graceMs: this.options.graceMs,
      maxLogBytes: this.options.maxLogBytes,
      argv: plan.argv,
      env: plan.env,
      cgroupProcs: plan.cgroupProcs,
    });
    // Whatever the reply, a pid file means some keeper owns the task: adopt it (see docs/task-shim.md).
    const pidFile = await readPidFile(task.dir);
    if (pidFile) return this.handleFrom(pidFile, pidFile.runId === runId ? { cgroupDirs } : undefined);
    await removeTaskCgroup(cgroupDirs);
    if (reply.kind === "failed") throw new TaskStartError("StartError", reply.message, 1);
    throw new TaskStartError("StartError", `the task shim reported ${reply.kind} but wrote no pid file`, 1);
  }

  async inspect(task: RuntimeTask, handle: RuntimeHandle): Promise<RuntimeObservation> {
    const result = await this.outcome(task, asProcessHandle(handle));
    if (result) return { phase: "exited", result };
    return { phase: "running", startedAt: asProcessHandle(handle).startedAt };
  }

  wait(task: RuntimeTask, handle: RuntimeHandle): Promise<ExitResult> {
    const processHandle = asProcessHandle(handle);
    const existing = this.waiters.get(processHandle.runId);
    if (existing) return existing.promise;
    let resolve!: (result: ExitResult) => void;
    const promise = new Promise<ExitResult>((done) => (resolve = done));
    this.waiters.set(processHandle.runId, { task, handle: processHandle, promise, resolve, stopStorageWatch: this.watchStorage(task, processHandle) });
    this.ensurePoller();
    void this.checkWaiter(processHandle.runId);
    return promise;
  }

  async stop(task: RuntimeTask, handle: RuntimeHandle, graceMs: number): Promise<void> {
    const processHandle = asProcessHandle(handle);
    if (await this.readExit(task)) return;
    if (!(await this.keeperAlive(processHandle))) return;
    signalQuietly(processHandle.keeperPid, "SIGTERM");
    // Backstop in case the keeper cannot escalate: kill the task's group; the keeper still records the exit.
    const backstop = setTimeout(() => {
      void this.readExit(task).then(async (exit) => {
        if (!exit && (await this.keeperAlive(processHandle))) signalQuietly(-processHandle.pid, "SIGKILL");
      });
    }, graceMs + 2000);
    backstop.unref();
  }

  async destroy(_task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<void> {
    const dirs = (handle as ProcessHandle | undefined)?.cgroupDirs ?? [];
    if (dirs.length) await removeTaskCgroup(dirs);
  }

  async recover(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<RuntimeHandle | undefined> {
    const pidFile = await readPidFile(task.dir);
    const known = handle as ProcessHandle | undefined;
    if (pidFile) return this.handleFrom(pidFile, known?.runId === pidFile.runId ? known : undefined);
    return handle;
  }

  logFiles(task: RuntimeTask): LogFile[] {
    return [
      { path: join(task.dir, TaskFiles.stdout), rotatedPath: join(task.dir, `${TaskFiles.stdout}.1`), stream: "stdout" },
      { path: join(task.dir, TaskFiles.stderr), rotatedPath: join(task.dir, `${TaskFiles.stderr}.1`), stream: "stderr" },
    ];
  }

  async close(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
    await this.launcher.close();
  }

  /** A handle for the run a pid file names; what was known of that run before (its keeper's identity) is kept. */
  private async handleFrom(pidFile: PidFile, known: Partial<ProcessHandle> | undefined): Promise<ProcessHandle> {
    const cgroupDirs = known?.cgroupDirs ?? [];
    return {
      runtime: this.name,
      runId: pidFile.runId,
      keeperPid: pidFile.keeperPid,
      keeperStartTicks: known?.keeperStartTicks !== undefined ? known.keeperStartTicks : ((await keeperStartTicks(pidFile.keeperPid)) ?? null),
      pid: pidFile.pid,
      startedAt: pidFile.startedAt,
      ...(cgroupDirs.length ? { cgroupDirs } : {}),
    };
  }

  /** The exit file, or a marker that it exists but cannot be read (it is renamed into place whole, so never half-written). */
  private async readExit(task: RuntimeTask): Promise<ExitFile | { unreadable: string } | undefined> {
    try {
      return await readExitFile(task.dir);
    } catch (error) {
      return { unreadable: (error as Error).message };
    }
  }

  private watchStorage(task: RuntimeTask, handle: ProcessHandle): (() => void) | undefined {
    const limit = task.spec.process?.resources?.limits?.["ephemeral-storage"];
    if (!limit) return undefined;
    return watchEphemeralStorage({
      dir: task.dir,
      limitBytes: parseQuantity(limit)!,
      processGroup: handle.pid,
      markerPath: join(task.dir, TaskFiles.evicted),
    });
  }

  /** Reads the exit file together with what else was recorded about the run. */
  private async resultFrom(task: RuntimeTask, handle: ProcessHandle, exit: ExitFile): Promise<ExitResult> {
    const oomMarker = join(task.dir, TaskFiles.oomKilled);
    const dirs = handle.cgroupDirs ?? [];
    // Decided once and recorded, so the reason does not change after the cgroup is gone.
    if (dirs.length && exit.exitCode !== 0 && !(await exists(oomMarker)) && (await cgroupOomKilled(dirs))) await writeFile(oomMarker, "");
    return outcomeFromExitFile(exit, specTimeoutSeconds(task.spec), {
      logTruncated: await exists(join(task.dir, TaskFiles.logTruncated)),
      oomKilled: await exists(oomMarker),
      evicted: await readFile(join(task.dir, TaskFiles.evicted), "utf8").catch(() => undefined),
    });
  }

  private async keeperAlive(handle: ProcessHandle): Promise<boolean> {
    if (handle.keeperStartTicks === null) return false;
    return (await keeperStartTicks(handle.keeperPid)) === handle.keeperStartTicks;
  }

  /** The task's outcome if it has one: the exit file, or `Lost` when the keeper died without writing it. */
  private async outcome(task: RuntimeTask, handle: ProcessHandle): Promise<ExitResult | undefined> {
    let exit = await this.readExit(task);
    if (!exit && (await this.keeperAlive(handle))) return undefined;
    exit ??= await this.readExit(task);
    const lost = (message: string): ExitResult => ({
      exitCode: LOST_EXIT_CODE,
      reason: "Lost",
      message,
      startedAt: handle.startedAt,
      finishedAt: new Date().toISOString(),
    });
    if (!exit) return lost(`the task's keeper (pid ${handle.keeperPid}) ended without recording an exit code`);
    if ("unreadable" in exit) return lost(`the task's exit file cannot be read: ${exit.unreadable}`);
    return this.resultFrom(task, handle, exit);
  }

  private async checkWaiter(runId: string): Promise<void> {
    const waiter = this.waiters.get(runId);
    if (!waiter) return;
    try {
      const result = await this.outcome(waiter.task, waiter.handle);
      if (!result || !this.waiters.has(runId)) return;
      this.waiters.delete(runId);
      waiter.stopStorageWatch?.();
      if (waiter.handle.cgroupDirs?.length) await removeTaskCgroup(waiter.handle.cgroupDirs);
      waiter.resolve(result);
    } catch (error) {
      this.logger.warn("cannot read the outcome of a task yet", { task: waiter.task.name, error: String(error) });
    }
  }

  private ensurePoller(): void {
    if (this.poller) return;
    this.poller = setInterval(() => {
      if (this.waiters.size === 0) {
        clearInterval(this.poller);
        this.poller = undefined;
        return;
      }
      for (const runId of this.waiters.keys()) void this.checkWaiter(runId);
    }, this.options.pollIntervalMs ?? 500);
    this.poller.unref();
  }
}

function asProcessHandle(handle: RuntimeHandle): ProcessHandle {
  return handle as ProcessHandle;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
