/**
 * Watches the running containers of one executor: one ListContainers call per tick for all of them, enforces
 * timeouts, caps logs, and once a container has exited collects its status, records the outcome in the task
 * directory, removes container and sandbox, and only then resolves the task's waiters.
 *
 * CRI (before GetContainerEvents) has no exit notification, so exits are found by polling. Most tasks are short,
 * so the poll follows the youngest watch: a tick half its age after it began (at least every
 * {@link FIRST_POLL_MS}), slowing to the poll interval (default 250 ms) for containers that keep running. A
 * container that ends at once is seen within milliseconds instead of a whole interval later.
 */
import { lostOutcome, specTimeoutSeconds, type ExitResult, type Logger, type RuntimeHandle, type RuntimeTask } from "@org/task-core";
import { grpcMessage, isNotFound, type ContainerState, type CriClient } from "./cri-client.js";
import { logTruncated, markTimedOut, readExit, timedOutMarked, writeExit } from "./files.js";
import { rotateLogIfNeeded } from "./log-rotation.js";
import { EXECUTOR_LABEL, resultFromStatus } from "./mapping.js";
import { removeContainer, removeSandbox } from "./sandboxes.js";

/** What the container runtime persists for a started task (plain JSON). */
export interface CriHandle extends RuntimeHandle {
  runtime: string;
  sandboxId: string;
  containerId: string;
  /** When the container started (RFC 3339); timeouts count from here, also after a restart. */
  startedAt?: string;
  image?: string;
}

interface Watch {
  task: RuntimeTask;
  /** When the watch began (performance.now()); sets how soon the next tick comes. */
  since: number;
  handle: CriHandle;
  timeoutSeconds: number;
  timedOut: boolean;
  stopping: boolean;
  rotating: boolean;
  nextLogCheck: number;
  settling: Promise<ExitResult | undefined> | undefined;
  finished: boolean;
  done: Promise<ExitResult>;
  resolve: (result: ExitResult) => void;
}

export interface MonitorOptions {
  executorId: string;
  graceMs: number;
  maxLogBytes: number;
  pollIntervalMs: number;
  logger: Logger;
}

const LOG_CHECK_INTERVAL_MS = 1000;
/** The first look at a new container; the ticks after it follow {@link nextPollDelay}. */
export const FIRST_POLL_MS = 10;
const LIST_WARNING_INTERVAL_MS = 30_000;

/** The outcome reported for a container that vanished from the runtime without an exit being collected. */
export function missingResult(task: RuntimeTask, handle: CriHandle): ExitResult {
  return lostOutcome(missingMessage(task, handle), { reason: "ContainerMissing", startedAt: handle.startedAt });
}

export function missingMessage(task: RuntimeTask, handle: CriHandle): string {
  return (
    `container ${handle.containerId} (sandbox ${handle.sandboxId}) of task ${task.name} no longer exists in the CRI ` +
    "runtime (removed outside the executor, or the runtime lost its state); its exit code is unknown"
  );
}

/** Time to the next tick when the youngest watch is `ageMs` old: half its age, within [FIRST_POLL_MS, pollIntervalMs]. */
export function nextPollDelay(ageMs: number, pollIntervalMs: number): number {
  return Math.min(pollIntervalMs, Math.max(FIRST_POLL_MS, ageMs / 2));
}

export class Monitor {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private closed = false;
  private ticking = false;
  private nextListWarning = 0;

  constructor(
    private readonly client: CriClient,
    private readonly options: MonitorOptions,
  ) {}

  /** The watch of a started container, created on first use. */
  watch(task: RuntimeTask, handle: CriHandle): Watch {
    const existing = this.watches.get(handle.containerId);
    if (existing) return existing;
    let resolve!: (result: ExitResult) => void;
    const done = new Promise<ExitResult>((ok) => (resolve = ok));
    const watch: Watch = {
      task,
      since: performance.now(),
      handle,
      timeoutSeconds: specTimeoutSeconds(task.spec),
      timedOut: false,
      stopping: false,
      rotating: false,
      nextLogCheck: 0,
      settling: undefined,
      finished: false,
      done,
      resolve,
    };
    this.watches.set(handle.containerId, watch);
    timedOutMarked(task.dir).then(
      (marked) => (watch.timedOut ||= marked),
      (error: unknown) => this.options.logger.warn("cannot read the timeout marker of a container task", { task: task.name, error: String(error) }),
    );
    this.schedule();
    return watch;
  }

  /** Stops watching without an outcome (the task is being destroyed). */
  forget(containerId: string): void {
    this.watches.delete(containerId);
  }

  /**
   * Looks at the container now: when it has exited (or vanished), finishes the task and returns its outcome;
   * while it runs, returns undefined.
   */
  settle(watch: Watch): Promise<ExitResult | undefined> {
    if (watch.finished) return watch.done;
    watch.settling ??= this.collect(watch).finally(() => (watch.settling = undefined));
    return watch.settling;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.closed = true;
    this.watches.clear();
  }

  private async collect(watch: Watch): Promise<ExitResult | undefined> {
    const { task, handle } = watch;
    const saved = await readExit(task.dir, this.options.logger);
    if (saved) return this.finish(watch, saved);
    let status;
    try {
      status = await this.client.containerStatus(handle.containerId);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const late = await readExit(task.dir, this.options.logger);
      if (late) return this.finish(watch, late);
      this.options.logger.warn("the container of a task vanished", { task: task.name, containerId: handle.containerId });
      await this.cleanup(watch, false);
      return this.finish(watch, missingResult(task, handle));
    }
    if (status.state !== "CONTAINER_EXITED") return undefined;
    const result = resultFromStatus(status, {
      timedOut: watch.timedOut || (await timedOutMarked(task.dir)),
      timeoutSeconds: watch.timeoutSeconds,
      logTruncated: await logTruncated(task.dir),
    });
    await writeExit(task.dir, result);
    await this.cleanup(watch, true);
    return this.finish(watch, result);
  }

  /** A finished task holds no processes: remove its container and sandbox (failures are logged, GC retries). */
  private async cleanup(watch: Watch, containerExists: boolean): Promise<void> {
    try {
      if (containerExists) await removeContainer(this.client, watch.handle.containerId, true);
      await removeSandbox(this.client, watch.handle.sandboxId);
    } catch (error) {
      this.options.logger.warn("cannot remove the sandbox of a finished task", {
        task: watch.task.name,
        sandboxId: watch.handle.sandboxId,
        error: grpcMessage(error),
      });
    }
  }

  private finish(watch: Watch, result: ExitResult): ExitResult {
    watch.finished = true;
    if (this.watches.get(watch.handle.containerId) === watch) this.watches.delete(watch.handle.containerId);
    watch.resolve(result);
    return result;
  }

  /** Sets the next tick for the youngest watch, unless one is already due as soon. */
  private schedule(): void {
    if (this.closed || this.watches.size === 0) return;
    const now = performance.now();
    let youngest = Infinity;
    for (const watch of this.watches.values()) youngest = Math.min(youngest, now - watch.since);
    const at = now + nextPollDelay(youngest, this.options.pollIntervalMs);
    if (this.timer && this.timerAt <= at) return;
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick()
        .catch((error: unknown) => this.options.logger.error("container monitor tick failed", { error: String(error) }))
        .finally(() => this.schedule());
    }, at - now);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.watches.size === 0) return;
    this.ticking = true;
    try {
      let states: Map<string, ContainerState>;
      try {
        const containers = await this.client.listContainers({ labelSelector: { [EXECUTOR_LABEL]: this.options.executorId } });
        states = new Map(containers.map((container) => [container.id, container.state]));
      } catch (error) {
        // Waiters keep waiting while the runtime is unreachable; say so now and then, not at every tick.
        const now = Date.now();
        if (now >= this.nextListWarning) {
          this.nextListWarning = now + LIST_WARNING_INTERVAL_MS;
          this.options.logger.warn("cannot list containers from the CRI runtime", { error: grpcMessage(error) });
        }
        return;
      }
      this.nextListWarning = 0;
      const now = Date.now();
      for (const watch of [...this.watches.values()]) {
        const state = states.get(watch.handle.containerId);
        if (state === "CONTAINER_RUNNING") {
          this.checkTimeout(watch, now);
          this.checkLog(watch, now);
        } else if (state !== "CONTAINER_CREATED") {
          this.settle(watch).catch((error: unknown) =>
            this.options.logger.warn("cannot collect the status of a container", { task: watch.task.name, error: grpcMessage(error) }),
          );
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  private checkTimeout(watch: Watch, now: number): void {
    if (watch.timeoutSeconds <= 0 || watch.stopping || !watch.handle.startedAt) return;
    const deadline = Date.parse(watch.handle.startedAt) + watch.timeoutSeconds * 1000;
    if (now < deadline) return;
    watch.stopping = true;
    watch.timedOut = true;
    const { task, handle } = watch;
    this.options.logger.info("task exceeded its timeout; stopping its container", { task: task.name, timeoutSeconds: watch.timeoutSeconds });
    void (async () => {
      try {
        await markTimedOut(task.dir);
        await this.client.stopContainer(handle.containerId, Math.ceil(this.options.graceMs / 1000));
        await this.settle(watch);
      } catch (error) {
        if (!isNotFound(error)) this.options.logger.warn("cannot stop a timed-out container", { task: task.name, error: grpcMessage(error) });
      } finally {
        watch.stopping = false;
      }
    })();
  }

  private checkLog(watch: Watch, now: number): void {
    if (this.options.maxLogBytes <= 0 || watch.rotating || now < watch.nextLogCheck) return;
    watch.nextLogCheck = now + LOG_CHECK_INTERVAL_MS;
    watch.rotating = true;
    const { task, handle } = watch;
    rotateLogIfNeeded(task.dir, this.options.maxLogBytes, () => this.client.reopenContainerLog(handle.containerId))
      .then((outcome) => {
        if (outcome !== "kept") this.options.logger.debug("rotated a container log", { task: task.name, outcome });
      })
      .catch((error: unknown) => this.options.logger.warn("cannot rotate a container log", { task: task.name, error: grpcMessage(error) }))
      .finally(() => (watch.rotating = false));
  }
}
