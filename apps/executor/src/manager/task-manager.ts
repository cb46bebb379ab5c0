import {
  ApiError,
  TaskStartCancelledError,
  TaskStartError,
  waiting,
  type ExitResult,
  type Logger,
  type Task,
  type TaskRequest,
} from "@org/task-core";
import { TaskExistsError, type TaskOrigin, type TaskRecord, type TaskStore } from "@org/store";
import type { EventHub } from "./event-hub.js";
import { ManagedTask } from "./managed-task.js";
import { TaskTable } from "./task-table.js";
import type { RuntimeSet } from "./runtime-set.js";
import { storageError } from "./storage-error.js";
import { tasksToStart, transition, type Effect, type LifecycleEvent } from "./transitions.js";

export interface TaskManagerOptions {
  store: TaskStore;
  hub: EventHub;
  runtimes: RuntimeSet;
  logger: Logger;
  /** Tasks running at once; 0 = unlimited. */
  maxConcurrentTasks: number;
  stopGraceMs: number;
  /** Called after a task finished (retention listens). */
  onTaskFinished?: () => void;
}

/**
 * Drives every task through its life: create → (queue) → start → running → terminated → deleted.
 * Status changes are event-driven (the runtime's `wait`); `reconcile` is the periodic safety net.
 */
export class TaskManager {
  private readonly tasks = new TaskTable();
  /** Desired tasks of a sync whose previous task of the same name is still being deleted. */
  private readonly recreateAfterDeletion = new Map<string, TaskRequest>();
  private reconciling = false;
  /**
   * True until every task's `runtime.recover` has finished: nothing is scheduled before, so a waiting task is
   * never started while its own recovery may still adopt it (in container mode: a second sandbox, or the
   * adopted one removed).
   */
  private recovering = false;
  private schedulePending = false;

  constructor(private readonly options: TaskManagerOptions) {}

  list(): Task[] {
    return this.tasks.inArrivalOrder().map((task) => task.toWire());
  }

  get(name: string): Task {
    return this.tasks.require(name).toWire();
  }

  /** {@link list} as a JSON array, from each task's cached serialisation. */
  listJson(): string {
    return `[${this.tasks.inArrivalOrder().map((task) => task.toWireJson()).join(",")}]`;
  }

  /** {@link get} as JSON, cached with the task's record. */
  getJson(name: string): string {
    return this.tasks.require(name).toWireJson();
  }

  /** Persisted records of all tasks (for retention). */
  records(): TaskRecord[] {
    return this.tasks.all().map((task) => task.record);
  }

  async create(request: TaskRequest, origin: TaskOrigin = "api"): Promise<Task> {
    const runtime = this.options.runtimes.forSpec(request.spec);
    if (this.tasks.has(request.name)) throw new ApiError("AlreadyExists", `task ${request.name} already exists`);
    const record: TaskRecord = {
      version: 1,
      name: request.name,
      ...(request.labels ? { labels: request.labels } : {}),
      spec: request.spec,
      legacyShape: request.legacyShape,
      origin,
      runtime: runtime.name,
      ...this.tasks.nextArrival(),
      state: waiting("Initialized"),
    };
    const task = new ManagedTask(record, runtime, this.options.store.taskDir(record.name), false);
    this.tasks.add(task);
    try {
      await this.options.store.create(record);
      task.persisted = true;
    } catch (error) {
      this.tasks.remove(task);
      if (error instanceof TaskExistsError) throw new ApiError("AlreadyExists", error.message);
      throw storageError(error, `cannot persist task ${record.name}`);
    }
    const reply = task.toWire();
    await this.apply(task, { type: "persisted" });
    return reply;
  }

  /**
   * Makes the managed set equal the desired set: missing tasks are stopped and removed, new ones created,
   * existing ones left alone. The request was validated as a whole before anything changes.
   */
  async sync(desired: TaskRequest[]): Promise<void> {
    for (const request of desired) this.options.runtimes.forSpec(request.spec);
    const wanted = new Map(desired.map((request) => [request.name, request]));
    for (const name of [...this.recreateAfterDeletion.keys()]) {
      if (!wanted.has(name)) this.recreateAfterDeletion.delete(name);
    }
    for (const task of this.tasks.all()) {
      // A create racing with this sync is left for the next one (the level-based caller sends it again).
      if (!wanted.has(task.name) && !task.deleting && task.persisted) await this.delete(task.name, "RemovedFromDesiredSet");
    }
    for (const request of desired) {
      const existing = this.tasks.get(request.name);
      if (!existing) await this.create(request, "sync");
      else if (existing.deleting) this.recreateAfterDeletion.set(request.name, request);
      else if (existing.record.origin !== "sync") await this.update(existing, { origin: "sync" });
    }
  }

  /** Cancels a task and keeps it: it ends `Cancelled`. A finished task is returned as it is. */
  async stop(name: string): Promise<Task> {
    const task = this.tasks.requirePersisted(name);
    await this.apply(task, { type: "stopRequested", now: new Date() });
    return task.toWire();
  }

  /** Marks a task for deletion and stops it in the background; it disappears once stopped. */
  async delete(name: string, reason = "Deleted"): Promise<void> {
    await this.apply(this.tasks.requirePersisted(name), { type: "deleteRequested", reason, now: new Date() });
  }

  /** Resolves with the task once it is terminated, or as it is after `timeoutMs`. */
  async waitForTerminal(name: string, timeoutMs: number): Promise<Task> {
    const task = this.tasks.require(name);
    if (!task.terminal) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([task.ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
    }
    return task.toWire();
  }

  /** The task's runtime view, for logs. */
  runtimeView(name: string) {
    const task = this.tasks.require(name);
    return { runtime: task.runtime, task: task.runtimeTask(), isFinished: () => task.terminal || !this.tasks.holds(task) };
  }

  /** Re-adopts every task from the data dir; call once before serving. */
  async recover(): Promise<{ tasks: number; problems: string[] }> {
    const scan = await this.options.store.scan();
    const problems = [...scan.problems];
    for (const record of scan.records.sort((a, b) => a.sequence - b.sequence)) {
      this.tasks.noteRecovered(record);
      const runtime = this.options.runtimes.byName(record.runtime);
      this.tasks.add(new ManagedTask(record, runtime, this.options.store.taskDir(record.name)));
    }
    const found: string[] = [];
    this.recovering = true;
    try {
      await Promise.all(this.tasks.all().map((task) => this.recoverTask(task, found)));
      await this.options.runtimes.collectGarbage(this.tasks.names()).catch((error: unknown) => {
        found.push(`garbage collection of runtime resources failed: ${(error as Error).message}`);
      });
    } finally {
      this.recovering = false;
    }
    for (const problem of found) this.options.logger.warn("task recovery", { problem });
    problems.push(...found);
    this.schedule();
    return { tasks: this.tasks.size, problems };
  }

  /**
   * The safety net: a running task nobody waits on (its wait failed) is inspected and watched again, and
   * whatever may start, starts. Watched tasks are left to their runtime, which already observes them.
   */
  async reconcile(): Promise<void> {
    if (this.reconciling || this.recovering) return;
    this.reconciling = true;
    try {
      for (const task of this.tasks.unfinished()) {
        if (task.phase !== "running" || !task.record.handle || task.watching) continue;
        const observation = await task.runtime.inspect(task.runtimeTask(), task.record.handle).catch((error: unknown) => {
          this.options.logger.warn("cannot inspect a task nobody waits on; waiting on it again", { task: task.name, error: String(error) });
          return undefined;
        });
        if (observation?.phase === "exited") await this.apply(task, { type: "exited", result: observation.result });
        else this.watch(task);
      }
      this.schedule();
    } finally {
      this.reconciling = false;
    }
  }

  /** At shutdown: optionally cancels every unfinished task (running or queued) and waits, bounded, for them. */
  async shutdown(stopTasks: boolean): Promise<void> {
    if (stopTasks) await this.stopAll();
    // State changes are written in the background; none may be lost to the exit that follows, and closing the store
    // leaves one snapshot and no journal to replay (bounded: a hung disk must not keep the executor from exiting;
    // the next start then replays the journal).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.options.store.close(), new Promise((resolve) => (timer = setTimeout(resolve, 10_000)))]);
    clearTimeout(timer);
  }

  private async stopAll(): Promise<void> {
    const active = this.tasks.unfinished().filter((task) => task.persisted);
    await Promise.all(
      active.map((task) =>
        this.stop(task.name).catch((error: unknown) => {
          this.options.logger.error("cannot stop a task at shutdown; it keeps running and is re-adopted on the next start", { task: task.name, error: String(error) });
        }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(active.map((task) => task.ended)),
      new Promise((resolve) => (timer = setTimeout(resolve, this.options.stopGraceMs + 3000))),
    ]);
    clearTimeout(timer);
  }

  /** Runs work nobody awaits; a failure is a defect or an environment problem, and is logged with its task. */
  private background(work: Promise<unknown>, what: string, task: ManagedTask, level: "error" | "warn" = "error"): void {
    work.catch((error: unknown) => {
      this.options.logger[level](`${what} failed`, { task: task.name, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    });
  }

  private async recoverTask(task: ManagedTask, problems: string[]): Promise<void> {
    if (!task.terminal) {
      try {
        const handle = await task.runtime.recover(task.runtimeTask(), task.record.handle);
        if (handle) {
          const startedAt = typeof handle.startedAt === "string" ? handle.startedAt : new Date().toISOString();
          await this.apply(task, { type: "recovered", startedAt }, { handle });
          const observed = await task.runtime.inspect(task.runtimeTask(), handle).catch((error: unknown) => {
            this.options.logger.warn("cannot inspect a recovered task; waiting on it", { task: task.name, error: String(error) });
            return undefined;
          });
          if (observed?.phase === "exited" && observed.result.reason === "Lost") problems.push(`${task.name}: ${observed.result.message}`);
        } else {
          await this.apply(task, { type: "recoveredNothing", now: new Date() });
        }
      } catch (error) {
        problems.push(`${task.name}: cannot recover: ${(error as Error).message}`);
        await this.apply(task, { type: "recoveryFailed", message: (error as Error).message, now: new Date() });
      }
    }
    if (task.deleting) this.background(this.runDeletion(task), "deleting a task", task);
  }

  /**
   * Asks for a scheduling pass. Passes are coalesced to one per turn of the event loop: under a burst of creates
   * and exits one pass serves them all, instead of one walk over the unfinished tasks per event.
   */
  private schedule(): void {
    if (this.schedulePending) return;
    this.schedulePending = true;
    setImmediate(() => {
      this.schedulePending = false;
      this.scheduleNow();
    });
  }

  /** Offers every startable task a slot, first come, first served; the others become `Queued`. */
  private scheduleNow(): void {
    if (this.recovering) return;
    const all = this.tasks.unfinished();
    const runningCount = all.filter((task) => task.occupiesSlot).length;
    const candidates = all.filter((task) => task.startable);
    const granted = new Set(tasksToStart(candidates, runningCount, this.options.maxConcurrentTasks));
    for (const task of candidates) {
      // `apply` takes the slot synchronously (before its first await), so the next pass counts it.
      this.background(this.apply(task, { type: granted.has(task) ? "slotGranted" : "slotDenied" }), "scheduling a task", task);
    }
  }

  /**
   * Feeds one event to the task's lifecycle (the pure {@link transition}) and carries out the effects in order.
   * A durable change (a client's stop or delete) is written before it counts, so a refused request changes
   * nothing and can be retried; other changes hold in memory even if their write fails, because the runtime's
   * own files let a restart observe them again. `record` adds runtime facts (the handle) to the record.
   */
  private async apply(task: ManagedTask, event: LifecycleEvent, record: Partial<TaskRecord> = {}): Promise<void> {
    let { lifecycle, changes, effects } = transition(task.lifecycle, event);
    if (effects.some((effect) => effect.type === "persist" && effect.durable)) {
      try {
        await this.options.store.save({ ...task.record, ...changes, ...record });
      } catch (error) {
        throw storageError(error, `cannot persist the change to task ${task.name}`);
      }
      // The task may have moved on while the write was in flight (it ended): decide again on what it is now.
      ({ lifecycle, changes, effects } = transition(task.lifecycle, event));
    }
    task.record = { ...task.record, ...changes, ...record };
    this.tasks.track(task);
    task.starting = lifecycle.starting;
    task.persisted = lifecycle.persisted;
    task.watching = lifecycle.watching;
    for (const effect of effects) await this.carryOut(task, effect, event);
  }

  private async carryOut(task: ManagedTask, effect: Effect, event: LifecycleEvent): Promise<void> {
    switch (effect.type) {
      case "persist":
        if (effect.durable) return;
        // Not awaited: what follows (the event, the end of a wait) need not wait for the disk, because a restart
        // observes this change again from the runtime's own durable files. The store keeps this task's writes in
        // order, so a later durable write (stop, delete) still lands after this one.
        this.options.store.save(task.record).catch((error: unknown) => {
          this.options.logger.error("cannot persist a task's state; a restart recovers it from the runtime", { task: task.name, event: event.type, error: String(error) });
        });
        return;
      case "publish":
        this.publish(effect.event, task);
        return;
      case "startRuntime":
        this.background(this.startTask(task), "starting a task", task);
        return;
      case "cancelStart":
        task.startAbort?.abort();
        return;
      case "watch":
        this.watch(task);
        return;
      case "stopRuntime":
        await this.stopRuntime(task);
        return;
      case "runDeletion":
        this.background(this.runDeletion(task), "deleting a task", task);
        return;
      case "ended":
        task.resolveEnded();
        return;
      case "schedule":
        this.schedule();
        return;
      case "finished":
        if (!this.recovering) this.options.onTaskFinished?.();
        return;
      case "warnLost":
        this.options.logger.warn("task lost", { task: task.name, event: "lost", reason: effect.message });
        return;
    }
  }

  private async startTask(task: ManagedTask): Promise<void> {
    const abort = new AbortController();
    task.startAbort = abort;
    let handle;
    try {
      handle = await task.runtime.start(task.runtimeTask(), { signal: abort.signal });
    } catch (error) {
      task.startAbort = undefined;
      if (error instanceof TaskStartCancelledError) {
        this.options.logger.info("a start was given up on request", { task: task.name, event: "start-cancelled", reason: error.message });
        await this.apply(task, { type: "startCancelled", now: new Date() });
        return;
      }
      const startError = error instanceof TaskStartError ? error : new TaskStartError("StartError", (error as Error).message, 1);
      if (!(error instanceof TaskStartError)) this.options.logger.error("task start failed", { task: task.name, error: String(error) });
      await this.apply(task, { type: "startFailed", reason: startError.reason, message: startError.message, exitCode: startError.exitCode, now: new Date() });
      return;
    }
    task.startAbort = undefined;
    const startedAt = typeof handle.startedAt === "string" ? handle.startedAt : new Date().toISOString();
    await this.apply(task, { type: "started", startedAt }, { handle });
  }

  private watch(task: ManagedTask): void {
    if (task.watching || !task.record.handle) return;
    task.watching = true;
    task.runtime.wait(task.runtimeTask(), task.record.handle).then(
      (result) => this.background(this.apply(task, { type: "exited", result }), "settling a finished task", task),
      (error: unknown) => {
        this.options.logger.warn("waiting for a task failed; the reconcile loop takes over", { task: task.name, error: String(error) });
        this.background(this.apply(task, { type: "waitFailed" }), "noting a failed wait", task);
      },
    );
  }

  private async stopRuntime(task: ManagedTask): Promise<void> {
    if (!task.record.handle) return;
    await task.runtime.stop(task.runtimeTask(), task.record.handle, this.options.stopGraceMs).catch((error: unknown) => {
      this.options.logger.warn("stopping a task failed", { task: task.name, error: String(error) });
    });
  }

  private async runDeletion(task: ManagedTask): Promise<void> {
    if (task.starting || task.phase === "running") {
      if (task.phase === "running") await this.stopRuntime(task);
      await task.ended;
    }
    task.resolveEnded();
    try {
      await task.runtime.destroy(task.runtimeTask(), task.record.handle);
      await this.options.store.remove(task.name);
    } catch (error) {
      this.options.logger.error("cannot remove a deleted task; retried on the next start", { task: task.name, error: String(error) });
      return;
    }
    this.tasks.remove(task);
    this.publish("deleted", task, task.record.deletionReason ?? "Deleted");
    const again = this.recreateAfterDeletion.get(task.name);
    if (again) {
      this.recreateAfterDeletion.delete(task.name);
      await this.create(again, "sync").catch((error: unknown) => {
        this.options.logger.error("cannot create a synced task again", { task: task.name, error: String(error) });
      });
    }
  }

  /**
   * Applies what the runtime observed (running, terminated): the change holds in memory even if the write fails,
   * because the runtime's own files let a restart observe it again.
   */
  private async update(task: ManagedTask, changes: Partial<TaskRecord>): Promise<void> {
    task.record = { ...task.record, ...changes };
    this.tasks.track(task);
    await this.options.store.save(task.record);
  }

  private publish(type: "created" | "started" | "terminated" | "deleted", task: ManagedTask, reason?: string): void {
    this.options.hub.publish({ type, task: task.toWire(), ...(reason ? { reason } : {}) }, task.toWireJson());
    const state = task.record.state;
    if (type === "terminated" && "terminated" in state) {
      const { reason: end, exitCode, startedAt, finishedAt } = state.terminated;
      const durationMs = startedAt && finishedAt ? Date.parse(finishedAt) - Date.parse(startedAt) : undefined;
      this.options.logger.info("task finished", { task: task.name, event: "finished", reason: end, exitCode, ...(durationMs !== undefined ? { durationMs } : {}) });
    } else {
      this.options.logger.debug(`task ${type}`, { task: task.name, event: type, ...(reason ? { reason } : {}) });
    }
  }
}
