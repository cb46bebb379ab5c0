import { since } from "./log-fields.js";

/** Backoff of a key that keeps failing: doubles from `baseMs` up to `maxMs`, as controller-runtime's default. */
export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * A work queue keyed by object (`namespace/name`), as controller-runtime's: a key is queued at most once, is
 * processed by one worker at a time (a key added while it is processed runs again afterwards), and failures
 * are retried with per-key exponential backoff. `addAfter` schedules a key for later (a sooner add wins).
 *
 * Keys added as urgent are served before the others: an executor reporting a task's end must not wait behind a
 * burst of placements, or the time from a task's exit to its terminal status grows with the number of new Tasks.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly urgent: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly dirtyUrgent = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly waiters: (() => void)[] = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: QueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 5;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
  }

  get length(): number {
    return this.queue.length + this.urgent.length;
  }

  add(key: string, options: { urgent?: boolean } = {}): void {
    if (this.shuttingDown) return;
    const pending = this.timers.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.timers.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      if (options.urgent) this.dirtyUrgent.add(key);
      return;
    }
    if (this.queued.has(key)) {
      if (!options.urgent || this.urgent.includes(key)) return;
      this.queue.splice(this.queue.indexOf(key), 1);
      this.urgent.push(key);
      return;
    }
    this.queued.add(key);
    (options.urgent ? this.urgent : this.queue).push(key);
    this.waiters.shift()?.();
  }

  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(key);
    const at = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Requeues a failed key with backoff. */
  addRateLimited(key: string): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(failures - 1, 30));
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its backoff starts again from the base. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Waits for the next key; undefined once the queue shuts down. */
  async get(): Promise<string | undefined> {
    while (this.length === 0) {
      if (this.shuttingDown) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const key = (this.urgent.length > 0 ? this.urgent : this.queue).shift()!;
    this.queued.delete(key);
    this.processing.add(key);
    return key;
  }

  /** Marks `key` processed; it is queued again when it was added meanwhile. */
  done(key: string): void {
    this.processing.delete(key);
    const urgent = this.dirtyUrgent.delete(key);
    if (this.dirty.delete(key)) this.add(key, { urgent });
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** Runs `workers` loops that take keys from `queue` and reconcile them, until the queue shuts down. */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  reconcile: (key: string) => Promise<{ requeueAfterMs?: number } | void>,
  onError: (key: string, error: unknown, retryInMs: number, durationMs: number) => void,
): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      const started = performance.now();
      try {
        const result = await reconcile(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (error) {
        onError(key, error, queue.addRateLimited(key), since(started));
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
