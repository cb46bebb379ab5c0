import { randomUUID } from "node:crypto";
import { existsSync, watch, type FSWatcher } from "node:fs";
import { mkdir, open, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  lostOutcome,
  needsCgroup,
  parseQuantity,
  silentLogger,
  specTimeoutSeconds,
  TaskStartCancelledError,
  TaskStartError,
  type ExitResult,
  type LogFile,
  type Logger,
  type RuntimeHandle,
  type RuntimeObservation,
  type RuntimeTask,
  type StartOptions,
  type TaskRuntime,
} from "@org/task-core";
import { cgroupOomKilled, createTaskCgroup, removeTaskCgroup, type CgroupSupport } from "./cgroups.js";
import { readExitFile, readPidFile, readTextIfPresent, TaskFiles, type ExitFile, type PidFile } from "./files.js";
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
  /**
   * Period of the safety-net sweep over all watched tasks (default 10 s). Outcomes are learnt from the keeper's
   * EXITED notice (tasks of this launcher) or from the exit record appearing (tasks adopted after a restart); the
   * sweep only catches a keeper that died without writing one.
   */
  sweepIntervalMs?: number;
  /** How long a start waits for the keeper to report before the task ends `StartError` (default 20 s). */
  startTimeoutMs?: number;
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
  /** Watches the task directory for the exit record (tasks whose keeper reports to an earlier launcher). */
  dirWatch: FSWatcher | undefined;
}

export const DEFAULT_START_TIMEOUT_MS = 20_000;
const DEFAULT_SWEEP_INTERVAL_MS = 10_000;
/** Written by `stop` for the keeper: the grace period of this stop (see docs/task-shim.md). */
const STOP_FILE = "stop";

export const DEFAULT_SHIM_PATH = fileURLToPath(new URL("./task-shim", import.meta.url));
/** The shim's C source (in the workspace; test kits build variants of it). */
export const TASK_SHIM_SOURCE = fileURLToPath(new URL("../shim/task-shim.c", import.meta.url));

/** Creates the process runtime: tasks run as host processes under a task-shim keeper each. */
export function createProcessRuntime(options: ProcessRuntimeOptions): TaskRuntime {
  return new ProcessRuntime(options);
}

class ProcessRuntime implements TaskRuntime {
  readonly name: string;
  private readonly launcher: Launcher;
  private readonly logger: Logger;
  private readonly waiters = new Map<string, ExitWaiter>();
  /** Runs started by this runtime's launcher: their keepers' EXITED notices reach us. */
  private readonly notifying = new Set<string>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: ProcessRuntimeOptions) {
    this.name = options.name ?? "process";
    this.logger = options.logger ?? silentLogger;
    const shimPath = options.shimPath ?? DEFAULT_SHIM_PATH;
    if (!existsSync(shimPath)) throw new Error(`task shim not found at ${shimPath}; build @org/runtime-process first`);
    this.launcher = new Launcher(shimPath, (runId) => void this.checkWaiter(runId, "EXITED notice"), this.logger);
  }

  async start(task: RuntimeTask, options: StartOptions = {}): Promise<RuntimeHandle> {
    const { signal } = options;
    if (signal?.aborted) throw new TaskStartCancelledError();
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
      try {
        // In sidecar mode the plan joins the main container's cgroups: the task's own go below them.
        cgroupDirs = await createTaskCgroup(this.options.cgroups, runId, limits, plan.cgroupProcs);
      } catch (error) {
        throw new TaskStartError("StartError", `cannot create the task's cgroup: ${(error as Error).message}`, 1);
      }
      // Joined last, so the task's own cgroups win over those the plan joined before (sidecar mode), in which
      // they are nested.
      plan.cgroupProcs = [...plan.cgroupProcs, ...cgroupDirs.map((dir) => join(dir, "cgroup.procs"))];
    }
    const startTimeoutMs = this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    this.notifying.add(runId);
    let reply;
    try {
      reply = await this.launcher.start(
        {
          runId,
          taskDir: task.dir,
          workingDir: plan.workingDir,
          timeoutMs: specTimeoutSeconds(task.spec) * 1000,
          graceMs: this.options.graceMs,
          maxLogBytes: this.options.maxLogBytes,
          argv: plan.argv,
          env: plan.env,
          cgroupProcs: plan.cgroupProcs,
        },
        startTimeoutMs,
        signal,
      );
    } catch (error) {
      this.notifying.delete(runId);
      await removeTaskCgroup(cgroupDirs, this.logger);
      throw error;
    }
    if (reply.kind === "timeout" || reply.kind === "cancelled") {
      this.notifying.delete(runId);
      const outcome = await this.abandonStart(task, runId);
      await removeTaskCgroup(cgroupDirs, this.logger);
      const keeper = `the task's keeper${reply.keeperPid ? ` (pid ${reply.keeperPid})` : ""}`;
      if (reply.kind === "cancelled") throw new TaskStartCancelledError(`the start was given up on request before ${keeper} reported it; ${outcome}`);
      throw new TaskStartError("StartError", `${keeper} did not report the start within ${startTimeoutMs / 1000}s; ${outcome}`, 1);
    }
    if (reply.kind === "started" && reply.keeperStartTicks !== undefined && reply.startedAt !== undefined) {
      // Our keeper linked its pid file before it said so, and told what the file and /proc would: nothing to read.
      const { keeperPid, pid, keeperStartTicks, startedAt } = reply;
      return this.handleFrom({ runId, keeperPid, pid, startedAt }, { keeperStartTicks, cgroupDirs });
    }
    // Whatever the reply, a pid file means some keeper owns the task: adopt it (see docs/task-shim.md).
    const pidFile = readPidFile(task.dir);
    if (pidFile && !pidFile.abandoned) {
      const ours = pidFile.runId === runId;
      if (!ours) {
        // Another keeper owns the directory: the cgroup made for this attempt is not used by anything.
        this.notifying.delete(runId);
        await removeTaskCgroup(cgroupDirs, this.logger);
      }
      return this.handleFrom(pidFile, ours ? { cgroupDirs } : undefined);
    }
    this.notifying.delete(runId);
    await removeTaskCgroup(cgroupDirs, this.logger);
    if (pidFile?.abandoned) throw new TaskStartError("StartError", "an earlier start of this task was given up; it is not run again", 1);
    if (reply.kind === "failed") throw new TaskStartError("StartError", reply.message, 1);
    throw new TaskStartError("StartError", `the task shim reported ${reply.kind} but wrote no pid file`, 1);
  }

  /**
   * After a start timed out or was given up (its keeper, if forked, is already killed): claims the task directory by creating the
   * `pid` file, so a keeper that gets there later runs nothing; if a keeper's pid file was first, kills its task.
   * Returns what happened, for the task's message.
   */
  private async abandonStart(task: RuntimeTask, runId: string): Promise<string> {
    try {
      const handle = await open(join(task.dir, TaskFiles.pid), "wx", 0o644);
      try {
        await handle.writeFile(`${JSON.stringify({ runId, abandoned: true })}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return "nothing was run";
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        this.logger.error("cannot claim the directory of a task whose start timed out", { task: task.name, runId, error: String(error) });
        return `the task directory could not be claimed (${(error as Error).message})`;
      }
    }
    let pidFile: PidFile | undefined;
    try {
      pidFile = readPidFile(task.dir);
    } catch (error) {
      this.logger.warn("unreadable pid file of a task whose start timed out", { task: task.name, error: String(error) });
    }
    if (pidFile && !pidFile.abandoned && pidFile.runId === runId) {
      signalQuietly(-pidFile.pid, "SIGKILL");
      return `its process group (pid ${pidFile.pid}) was killed`;
    }
    return "the task directory is owned by another start";
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
    const runId = processHandle.runId;
    // A keeper of an earlier launcher reports to a pipe nobody reads: watch for its exit record instead.
    const dirWatch = this.notifying.has(runId) ? undefined : this.watchExitFile(task, runId);
    this.waiters.set(runId, { task, handle: processHandle, promise, resolve, stopStorageWatch: this.watchStorage(task, processHandle), dirWatch });
    this.ensureSweeper();
    void this.checkWaiter(runId, "wait");
    return promise;
  }

  async stop(task: RuntimeTask, handle: RuntimeHandle, graceMs: number): Promise<void> {
    const processHandle = asProcessHandle(handle);
    if (this.readExit(task)) return;
    if (!this.keeperAlive(processHandle)) return;
    // The keeper reads this stop's grace period from the task directory when the SIGTERM arrives.
    const grace = Math.max(0, Math.round(graceMs));
    const temp = join(task.dir, `${STOP_FILE}.tmp.${randomUUID()}`);
    try {
      await writeFile(temp, `${grace}\n`);
      await rename(temp, join(task.dir, STOP_FILE));
    } catch (error) {
      // A full disk must not keep the task from being stopped: the keeper then uses the grace period of the start.
      this.logger.warn("cannot pass the stop's grace period to the keeper; it uses the one given at start", { task: task.name, graceMs: grace, error: String(error) });
      await unlink(temp).catch(() => undefined); // may not exist; the failure that matters is logged above
    }
    signalQuietly(processHandle.keeperPid, "SIGTERM");
    // Backstop in case the keeper cannot escalate: kill the task's group; the keeper still records the exit.
    const backstop = setTimeout(() => {
      if (!this.readExit(task) && this.keeperAlive(processHandle)) signalQuietly(-processHandle.pid, "SIGKILL");
    }, grace + 2000);
    backstop.unref();
  }

  async destroy(_task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<void> {
    const dirs = (handle as ProcessHandle | undefined)?.cgroupDirs ?? [];
    if (dirs.length) await removeTaskCgroup(dirs, this.logger);
  }

  async recover(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<RuntimeHandle | undefined> {
    const pidFile = readPidFile(task.dir);
    const known = handle as ProcessHandle | undefined;
    if (pidFile?.abandoned) {
      // A start that timed out claimed the directory and the executor stopped before the task ended StartError.
      throw new TaskStartError("StartError", "the start of this task was given up (its keeper did not report in time, or it was cancelled); nothing was run", 1);
    }
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
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const waiter of this.waiters.values()) waiter.dirWatch?.close();
    await this.launcher.close();
  }

  /** Checks a waiter when the keeper appends the exit record to its pid file (or an earlier keeper writes an `exit` file). */
  private watchExitFile(task: RuntimeTask, runId: string): FSWatcher | undefined {
    try {
      const watcher = watch(task.dir, { persistent: false }, (_event, file) => {
        const name = file === null ? null : String(file);
        if (name === null || name === TaskFiles.pid || name === TaskFiles.exit) void this.checkWaiter(runId, "exit record");
      });
      watcher.on("error", (error) => {
        this.logger.warn("cannot watch a task directory; the sweep still notices the task's end", { task: task.name, error: String(error) });
        watcher.close();
      });
      return watcher;
    } catch (error) {
      this.logger.warn("cannot watch a task directory; the sweep still notices the task's end", { task: task.name, error: String(error) });
      return undefined;
    }
  }

  /** A handle for the run a pid file names; what was known of that run before (its keeper's identity) is kept. */
  private handleFrom(pidFile: KeeperPidFile, known: Partial<ProcessHandle> | undefined): ProcessHandle {
    const cgroupDirs = known?.cgroupDirs ?? [];
    return {
      runtime: this.name,
      runId: pidFile.runId,
      keeperPid: pidFile.keeperPid,
      keeperStartTicks: known?.keeperStartTicks !== undefined ? known.keeperStartTicks : (keeperStartTicks(pidFile.keeperPid) ?? null),
      pid: pidFile.pid,
      startedAt: pidFile.startedAt,
      ...(cgroupDirs.length ? { cgroupDirs } : {}),
    };
  }

  /** The exit record, or a marker that it is there but cannot be read (it is read only once whole). */
  private readExit(task: RuntimeTask): ExitFile | { unreadable: string } | undefined {
    try {
      return readExitFile(task.dir);
    } catch (error) {
      return { unreadable: (error as Error).message };
    }
  }

  private watchStorage(task: RuntimeTask, handle: ProcessHandle): (() => void) | undefined {
    const limit = storageLimit(task);
    if (!limit) return undefined;
    return watchEphemeralStorage({
      dir: task.dir,
      limitBytes: parseQuantity(limit)!,
      processGroup: handle.pid,
      markerPath: join(task.dir, TaskFiles.evicted),
      logger: this.logger,
      taskName: task.name,
    });
  }

  /** Reads the exit record together with what else was recorded about the run. */
  private async resultFrom(task: RuntimeTask, handle: ProcessHandle, exit: ExitFile): Promise<ExitResult> {
    const oomMarker = join(task.dir, TaskFiles.oomKilled);
    const dirs = handle.cgroupDirs ?? [];
    // Decided once and recorded, so the reason does not change after the cgroup is gone.
    if (dirs.length && exit.exitCode !== 0 && !existsSync(oomMarker) && (await cgroupOomKilled(dirs))) await writeFile(oomMarker, "");
    // The runtime writes the OOM marker only for a task with a cgroup of its own and the eviction marker only for
    // one with a storage limit: other tasks are not asked about them (each ask is a path lookup per ended task).
    return outcomeFromExitFile(exit, specTimeoutSeconds(task.spec), {
      logTruncated: existsSync(join(task.dir, TaskFiles.logTruncated)),
      oomKilled: dirs.length > 0 && existsSync(oomMarker),
      evicted: storageLimit(task) ? this.evictionMarker(task) : undefined,
    });
  }

  /** The eviction marker's text, if the runtime wrote one (read synchronously, as the exit record: see files.ts). */
  private evictionMarker(task: RuntimeTask): string | undefined {
    try {
      return readTextIfPresent(join(task.dir, TaskFiles.evicted));
    } catch (error) {
      this.logger.warn("cannot read the eviction marker of a task", { task: task.name, error: String(error) });
      return undefined;
    }
  }

  private keeperAlive(handle: ProcessHandle): boolean {
    if (handle.keeperStartTicks === null) return false;
    return keeperStartTicks(handle.keeperPid) === handle.keeperStartTicks;
  }

  /** The task's outcome if it has one: the exit record, or `Lost` when the keeper died without writing it. */
  private async outcome(task: RuntimeTask, handle: ProcessHandle): Promise<ExitResult | undefined> {
    let exit = this.readExit(task);
    if (!exit && this.keeperAlive(handle)) return undefined;
    exit ??= this.readExit(task);
    const lost = (message: string): ExitResult => lostOutcome(message, { startedAt: handle.startedAt });
    if (!exit) return lost(`the task's keeper (pid ${handle.keeperPid}) ended without recording an exit code`);
    if ("unreadable" in exit) return lost(`the task's exit record cannot be read: ${exit.unreadable}`);
    return this.resultFrom(task, handle, exit);
  }

  private async checkWaiter(runId: string, cause: string): Promise<void> {
    const waiter = this.waiters.get(runId);
    if (!waiter) return;
    try {
      const result = await this.outcome(waiter.task, waiter.handle);
      if (!result || !this.waiters.has(runId)) return;
      this.waiters.delete(runId);
      this.notifying.delete(runId);
      waiter.stopStorageWatch?.();
      waiter.dirWatch?.close();
      if (waiter.handle.cgroupDirs?.length) await removeTaskCgroup(waiter.handle.cgroupDirs, this.logger);
      this.logger.debug("task ended", { task: waiter.task.name, runId, noticedBy: cause });
      waiter.resolve(result);
    } catch (error) {
      this.logger.warn("cannot read the outcome of a task yet", { task: waiter.task.name, error: String(error) });
    }
  }

  /** The safety net: one pass over the watched tasks every sweep interval, while there are any. */
  private ensureSweeper(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => {
      if (this.waiters.size === 0) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
        return;
      }
      for (const runId of this.waiters.keys()) void this.checkWaiter(runId, "sweep");
    }, this.options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }
}

type KeeperPidFile = Exclude<PidFile, { abandoned: true }>;

/** The task's ephemeral-storage limit, if it has one (only such a task is watched, and can be evicted). */
function storageLimit(task: RuntimeTask): string | undefined {
  return task.spec.process?.resources?.limits?.["ephemeral-storage"];
}

function asProcessHandle(handle: RuntimeHandle): ProcessHandle {
  return handle as ProcessHandle;
}
