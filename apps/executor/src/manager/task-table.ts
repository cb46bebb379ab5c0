import { ApiError } from "@org/task-core";
import type { TaskRecord } from "@org/store";
import type { ManagedTask } from "./managed-task.js";

/**
 * The tasks the manager holds, by name, with what the manager reads them by: arrival order, and the unfinished
 * ones apart, so the periodic passes (reconcile, schedule) walk only those and the idle cost does not grow with
 * the finished tasks kept for retention.
 */
export class TaskTable {
  private readonly byName = new Map<string, ManagedTask>();
  private readonly unfinishedTasks = new Set<ManagedTask>();
  private nextSequence = 0;
  /** Creation times strictly increase, so ordering by creation time is arrival order even within a millisecond. */
  private lastCreatedMs = 0;

  get size(): number {
    return this.byName.size;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): ManagedTask | undefined {
    return this.byName.get(name);
  }

  /** The task of that name; NotFound otherwise. */
  require(name: string): ManagedTask {
    const task = this.byName.get(name);
    if (!task) throw new ApiError("NotFound", `task ${name} not found`);
    return task;
  }

  /** A task that may be changed: its first record is on disk. */
  requirePersisted(name: string): ManagedTask {
    const task = this.require(name);
    if (!task.persisted) throw new ApiError("Conflict", `task ${name} is still being created; try again`);
    return task;
  }

  /** Whether `task` is still the one held under its name (not removed, not replaced by a new one). */
  holds(task: ManagedTask): boolean {
    return this.byName.get(task.name) === task;
  }

  all(): ManagedTask[] {
    return [...this.byName.values()];
  }

  names(): Set<string> {
    return new Set(this.byName.keys());
  }

  inArrivalOrder(): ManagedTask[] {
    return this.all().sort((a, b) => a.sequence - b.sequence);
  }

  unfinished(): ManagedTask[] {
    return [...this.unfinishedTasks];
  }

  add(task: ManagedTask): void {
    this.byName.set(task.name, task);
    this.track(task);
  }

  remove(task: ManagedTask): void {
    if (this.holds(task)) this.byName.delete(task.name);
    this.unfinishedTasks.delete(task);
  }

  /** Keeps the unfinished set in step with a task's state; call after its record changed. */
  track(task: ManagedTask): void {
    if (task.terminal || !this.holds(task)) this.unfinishedTasks.delete(task);
    else this.unfinishedTasks.add(task);
  }

  /** The sequence number and creation time of a new task. */
  nextArrival(): { sequence: number; creationTimestamp: string } {
    this.lastCreatedMs = Math.max(Date.now(), this.lastCreatedMs + 1);
    return { sequence: this.nextSequence++, creationTimestamp: new Date(this.lastCreatedMs).toISOString() };
  }

  /** Counts a recovered record, so new tasks arrive after it. */
  noteRecovered(record: TaskRecord): void {
    this.nextSequence = Math.max(this.nextSequence, record.sequence + 1);
    this.lastCreatedMs = Math.max(this.lastCreatedMs, Date.parse(record.creationTimestamp) || 0);
  }
}
