import type { RuntimeTask, Task, TaskRuntime } from "@org/task-core";
import { isTerminal, phaseOf, toWireTask } from "@org/task-core";
import { keptJson, type TaskRecord } from "@org/store";
import { flatString } from "./flat-string.js";
import { isStartable, type Lifecycle } from "./transitions.js";

/** What `ended` is for every task that has ended: nothing needs to be created per task for it. */
const ALREADY_ENDED: Promise<void> = Promise.resolve();

/** One task the manager drives: its persisted record plus what is in flight for it. */
export class ManagedTask {
  /** A start was handed to the runtime and has not returned yet. */
  starting = false;
  /**
   * False while a new task's first record is being written: the name is taken, but nothing may start the task
   * before its directory and task.json exist (a crash then would lose it, and a retried create would run it twice).
   */
  persisted: boolean;
  /** A runtime `wait` is attached. */
  watching = false;
  /** Aborts the start in flight (a stop or delete while starting). */
  startAbort: AbortController | undefined;
  private hasEnded: boolean;
  /** Made only when somebody waits for the end (a promise per task would be kept for every finished one). */
  private endedPromise: Promise<void> | undefined;
  private markEnded: (() => void) | undefined;
  /** The record {@link wireJson} was made from. */
  private wireRecord: TaskRecord | undefined;
  private wireJson: string | undefined;

  constructor(
    public record: TaskRecord,
    readonly runtime: TaskRuntime,
    readonly dir: string,
    persisted = true,
  ) {
    this.persisted = persisted;
    this.hasEnded = isTerminal(record.state);
  }

  /** Resolves when the task reaches `terminated` (or is removed without ever running). */
  get ended(): Promise<void> {
    if (this.hasEnded) return ALREADY_ENDED;
    return (this.endedPromise ??= new Promise((resolve) => (this.markEnded = resolve)));
  }

  get name(): string {
    return this.record.name;
  }

  get phase() {
    return phaseOf(this.record.state);
  }

  get terminal(): boolean {
    return isTerminal(this.record.state);
  }

  get deleting(): boolean {
    return this.record.deletionTimestamp !== undefined;
  }

  /** Arrival order (first come, first served). */
  get sequence(): number {
    return this.record.sequence;
  }

  /** Counts against the concurrency limit. */
  get occupiesSlot(): boolean {
    return this.starting || this.phase === "running";
  }

  /** Waits to be started (not yet handed to the runtime, not being deleted). */
  get startable(): boolean {
    return isStartable(this.lifecycle);
  }

  /** What the pure lifecycle ({@link transition}) sees of this task. */
  get lifecycle(): Lifecycle {
    return {
      state: this.record.state,
      persisted: this.persisted,
      starting: this.starting,
      watching: this.watching,
      hasHandle: this.record.handle !== undefined,
      cancelRequested: this.record.cancelRequested === true,
      deleting: this.deleting,
    };
  }

  /** Called once the task reached `terminated` or will never run. */
  resolveEnded(): void {
    this.hasEnded = true;
    this.markEnded?.();
    this.endedPromise = undefined;
    this.markEnded = undefined;
  }

  runtimeTask(): RuntimeTask {
    return { name: this.record.name, spec: this.record.spec, dir: this.dir };
  }

  /** The task as the API shows it (a few objects over the record's, made per call: nothing kept per task). */
  toWire(): Task {
    const record = this.record;
    return toWireTask(
      {
        name: record.name,
        ...(record.labels ? { labels: record.labels } : {}),
        spec: record.spec,
        status: { state: record.state, ...(record.logTruncated ? { logTruncated: true } : {}) },
        creationTimestamp: record.creationTimestamp,
        ...(record.deletionTimestamp ? { deletionTimestamp: record.deletionTimestamp } : {}),
      },
      record.legacyShape,
    );
  }

  /**
   * `JSON.stringify(toWire())`, kept per record (records are replaced, never changed in place), so reads of a task
   * that does not change — most reads, of finished tasks — cost no serialising; a large one is made per call.
   */
  toWireJson(): string {
    if (this.wireRecord === this.record && this.wireJson !== undefined) return this.wireJson;
    const json = JSON.stringify(this.toWire());
    const kept = keptJson(json);
    this.wireRecord = this.record;
    this.wireJson = kept === undefined ? undefined : flatString(kept);
    return this.wireJson ?? json;
  }
}
