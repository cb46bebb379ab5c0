import { ExecutorClient, ExecutorClientError, executorModes, type ExecutorMode, type Logger, type NewTask, type Task } from "@org/task-core";
import { since } from "../log-fields.js";
import { mergeObserved } from "./observed.js";

export interface ConnectionOptions {
  /** `namespace/name` of the executor pod. */
  key: string;
  /** `IP:PORT` of its API. */
  address: string;
  token: string | undefined;
  logger: Logger;
  /** Called with the executor-side names of tasks whose observed state changed. */
  onTasksChanged: (taskNames: string[]) => void;
  /** Called when reachability or reported modes change. */
  onExecutorChanged: () => void;
  /** The desired set to push, computed when the push happens (so it is never stale). */
  desiredSet: () => NewTask[] | undefined;
  healthIntervalMs?: number;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * The controller's link to one executor: what it was told to run (pushed with `POST /setTasks`, one push in
 * flight at a time, later changes coalesced into the next) and what it reports (`GET /getTasks`, then
 * `GET /events` with resume; a re-list after a `reset` or while the stream is down). Every successful read
 * is a contact; failures are retried with backoff and only reported, never acted on here.
 */
export class ExecutorConnection {
  readonly client: ExecutorClient;
  /** Tasks the executor reported, by their executor-side name. */
  readonly observed = new Map<string, Task>();
  /** True once a complete listing is held (after a list or a push reply). */
  listed = false;
  lastContactMs = Date.now();
  modes: readonly ExecutorMode[] = [];
  healthy = false;
  /** The first health check has answered or failed: until then nothing is known of this executor. */
  checked = false;
  /** The listing generation: bumps on every complete listing, so callers can tell a listing newer than a push. */
  listings = 0;
  private lastEventId: number | undefined;
  private readonly abort = new AbortController();
  private pushWanted = false;
  private pushing: Promise<void> | undefined;
  private closed = false;
  private healthTimer: NodeJS.Timeout | undefined;
  private failuresReported = 0;

  constructor(private readonly options: ConnectionOptions) {
    this.client = new ExecutorClient({
      baseUrl: `http://${options.address}`,
      token: options.token,
      timeoutMs: 5_000,
      retries: 2,
    });
  }

  get key(): string {
    return this.options.key;
  }

  get address(): string {
    return this.options.address;
  }

  start(): void {
    void this.checkHealth();
    this.healthTimer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs ?? 2_000);
    this.healthTimer.unref();
    void this.follow();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.healthTimer);
    this.abort.abort();
  }

  /** Asks for a push of the desired set; coalesces with a push in flight. Resolves when the set was pushed. */
  requestPush(): Promise<void> {
    this.pushWanted = true;
    this.pushing ??= this.pushLoop().finally(() => {
      this.pushing = undefined;
    });
    return this.pushing;
  }

  async stopTask(name: string): Promise<void> {
    const task = await this.client.stopTask(name);
    this.contact();
    this.observe([task]);
  }

  private async pushLoop(): Promise<void> {
    let delay = 100;
    while (this.pushWanted && !this.closed) {
      this.pushWanted = false;
      const desired = this.options.desiredSet();
      if (desired === undefined) return;
      const started = performance.now();
      try {
        const listing = await this.client.setTasks(desired);
        this.contact();
        this.replaceListing(listing);
        delay = 100;
        this.options.logger.debug("desired set pushed", { event: "pushed", executor: this.key, tasks: desired.length, durationMs: since(started) });
      } catch (error) {
        this.reportFailure("push", error, since(started));
        this.pushWanted = true;
        await this.sleep(delay);
        delay = Math.min(MAX_BACKOFF_MS, delay * 2);
      }
    }
  }

  private async checkHealth(): Promise<void> {
    try {
      const health = await this.client.health();
      const modes = executorModes(health);
      const changed = !this.healthy || modes.join() !== this.modes.join();
      this.modes = modes;
      this.healthy = true;
      this.contact();
      this.checked = true;
      if (changed) this.options.onExecutorChanged();
    } catch (error) {
      this.reportFailure("health", error);
      const first = !this.checked;
      this.checked = true;
      if (this.healthy || first) {
        this.healthy = false;
        this.options.onExecutorChanged();
      }
    }
  }

  /** List, then follow the event stream; on any failure back off and start over (resuming where possible). */
  private async follow(): Promise<void> {
    let delay = 100;
    while (!this.closed) {
      try {
        if (!this.listed || this.lastEventId === undefined) await this.relist();
        // The first stream asks from id 0: the executor replays what it holds or answers `reset`, so nothing
        // that happened between the listing and the stream is missed.
        for await (const event of this.client.events(this.lastEventId ?? 0, this.abort.signal)) {
          this.contact();
          delay = 100;
          this.lastEventId = event.id;
          if (event.type === "reset") {
            await this.relist();
            continue;
          }
          if (!event.task) continue;
          if (event.type === "deleted") {
            if (this.observed.delete(event.task.name)) this.options.onTasksChanged([event.task.name]);
          } else {
            this.observe([event.task]);
          }
        }
      } catch (error) {
        if (this.closed) return;
        this.reportFailure("events", error);
        this.listed = false;
      }
      if (this.closed) return;
      await this.sleep(delay);
      delay = Math.min(MAX_BACKOFF_MS, delay * 2);
    }
  }

  private async relist(): Promise<void> {
    const listing = await this.client.listTasks();
    this.contact();
    this.replaceListing(listing);
  }

  private replaceListing(listing: Task[]): void {
    const names = new Set(listing.map((task) => task.name));
    const gone = [...this.observed.keys()].filter((name) => !names.has(name));
    for (const name of gone) this.observed.delete(name);
    const changed = [...gone, ...this.merge(listing)];
    this.listed = true;
    this.listings += 1;
    this.options.onTasksChanged(changed);
  }

  private observe(tasks: Task[]): void {
    const changed = this.merge(tasks);
    if (changed.length) this.options.onTasksChanged(changed);
  }

  /** Merges reported tasks into what is observed; returns the names that changed. */
  private merge(tasks: Task[]): string[] {
    const changed: string[] = [];
    for (const task of tasks) {
      const before = this.observed.get(task.name);
      const after = mergeObserved(before, task);
      if (after !== before) {
        this.observed.set(task.name, after);
        changed.push(task.name);
      }
    }
    return changed;
  }

  private contact(): void {
    this.lastContactMs = Date.now();
    if (this.failuresReported > 0) {
      this.options.logger.info("executor answers again", { event: "executor-reachable", executor: this.key, address: this.address });
      this.failuresReported = 0;
    }
  }

  private reportFailure(what: string, error: unknown, durationMs?: number): void {
    this.failuresReported += 1;
    // The first failure and then every tenth: a flapping executor does not flood the log.
    if (this.failuresReported === 1 || this.failuresReported % 10 === 0) {
      const kind = error instanceof ExecutorClientError ? error.kind : "error";
      this.options.logger.warn("executor call failed; retrying", {
        event: "executor-call-failed",
        executor: this.key,
        address: this.address,
        call: what,
        kind,
        error: error instanceof Error ? error.message : String(error),
        failures: this.failuresReported,
        ...(durationMs !== undefined ? { durationMs } : {}),
      });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.abort.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      }, { once: true });
    });
  }
}
