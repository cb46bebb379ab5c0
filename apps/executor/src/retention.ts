import { groupOf, retiresNothing, selectRetirements, type RetentionCandidate, type RetentionPolicy } from "@org/retention";
import type { TaskRecord, TaskStore } from "@org/store";
import { ApiError, type Logger } from "@org/task-core";
import type { TaskManager } from "./manager/task-manager.js";

/** How long after a task finishes the retention pass runs, so a burst of ends costs one pass. */
const AFTER_FINISH_DELAY_MS = 200;

/**
 * Applies the retention policy: on a timer and shortly after tasks finish. Tasks of the `/setTasks` caller are
 * protected (the caller's desired set owns them); retired tasks are deleted with reason `Retention:<rule>`.
 */
export class RetentionRunner {
  private timer: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /**
   * The records of the last pass when it retired nothing. Records are replaced, never changed in place, so the
   * same records give the same answer: the timer's pass then returns at once instead of ranking every finished
   * task (tens of milliseconds with 10 000 of them, the largest cost of an idle executor). Only without a TTL
   * or a disk budget, which depend on the clock and the disk as well.
   */
  private settled: TaskRecord[] | undefined;
  /** What a record tells retention, worked out once per record (records are replaced, never changed in place). */
  private readonly candidateOf = new WeakMap<TaskRecord, Omit<RetentionCandidate, "bytes">>();

  constructor(
    private readonly manager: TaskManager,
    private readonly store: TaskStore,
    private readonly policy: RetentionPolicy,
    private readonly logger: Logger,
  ) {}

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.pending);
  }

  /** Called when a task finished. */
  soon(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.runOnce();
    }, AFTER_FINISH_DELAY_MS);
    this.pending.unref();
  }

  /** One pass; passes never overlap. */
  runOnce(): Promise<void> {
    if (!this.running) {
      this.running = this.pass()
        .catch((error: unknown) => {
          this.logger.error("retention pass failed", { error: String(error) });
        })
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  private async pass(): Promise<void> {
    if (retiresNothing(this.policy)) return;
    const needBytes = this.policy.maxTotalBytes !== undefined;
    const records = this.manager.records();
    const recordsDecide = !needBytes && this.policy.finishedTtlMs === undefined;
    if (recordsDecide && this.settled && sameRecords(records, this.settled)) return;
    this.settled = undefined;
    const candidates: RetentionCandidate[] = [];
    for (const record of records) {
      if (record.deletionTimestamp) continue;
      let known = this.candidateOf.get(record);
      if (!known) {
        const finishedAt = "terminated" in record.state ? Date.parse(record.state.terminated.finishedAt) : undefined;
        known = {
          name: record.name,
          group: groupOf(record.labels),
          createdAt: Date.parse(record.creationTimestamp),
          ...(finishedAt !== undefined ? { finishedAt } : {}),
          protected: record.origin === "sync",
        };
        this.candidateOf.set(record, known);
      }
      candidates.push({ ...known, bytes: needBytes ? await this.store.diskUsage(record.name) : 0 });
    }
    const retirements = selectRetirements(candidates, this.policy, Date.now());
    if (recordsDecide && retirements.length === 0) this.settled = records;
    for (const retirement of retirements) {
      await this.manager.delete(retirement.name, `Retention:${retirement.reason}`).catch((error: unknown) => {
        // Gone or being created meanwhile is expected; anything else (a full disk) is worth knowing.
        if (error instanceof ApiError && (error.code === "NotFound" || error.code === "Conflict")) return;
        this.logger.warn("cannot retire a task; retried on the next pass", { task: retirement.name, rule: retirement.reason, error: String(error) });
      });
    }
    if (retirements.length) this.logger.info("retired finished tasks", { count: retirements.length });
  }
}

function sameRecords(a: readonly TaskRecord[], b: readonly TaskRecord[]): boolean {
  return a.length === b.length && a.every((record, index) => record === b[index]);
}
