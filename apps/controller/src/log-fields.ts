import type { Logger } from "@org/task-core";
import type { ControllerMetrics } from "./metrics.js";

/**
 * The controller's log lines share their field names:
 * - `event`: what happened, a short kebab-case identifier (`reconciled`, `scheduled`, `executor-lost`, ...);
 * - `task`: `namespace/name` of the Task concerned; `schedule`: the same for a TaskSchedule;
 * - `executor`: `namespace/name` of the executor pod concerned;
 * - `durationMs`: how long the reconcile or push took;
 * - `error`: the failure's message.
 */
export type ObjectKind = "task" | "schedule";

/** `ExecutorLost` → `executor-lost`: a Kubernetes Event reason as a log `event`. */
export function kebab(reason: string): string {
  return reason.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
}

/** Milliseconds since `started` (`performance.now()`), to a tenth. */
export function since(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}

/**
 * Runs reconciles with their metrics and log lines: `reconciled` (debug) with `durationMs` and the requeue asked
 * for, and `reconcile-failed` (warn) with the failed attempt's `durationMs`, the error and the retry delay.
 */
export class ReconcileLog {
  /** Duration of the last failed attempt per object, until its failure is logged. */
  private readonly failedAfter = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
  ) {}

  async run<T extends { requeueAfterMs?: number } | void>(kind: ObjectKind, key: string, reconcile: () => Promise<T>): Promise<T> {
    const end = this.metrics.reconcileSeconds.startTimer({ kind });
    const started = performance.now();
    try {
      const result = await reconcile();
      this.metrics.reconciles.inc({ kind, result: "ok" });
      const requeue = result?.requeueAfterMs;
      this.logger.debug("reconciled", { event: "reconciled", [kind]: key, durationMs: since(started), ...(requeue !== undefined ? { requeueAfterMs: requeue } : {}) });
      return result;
    } catch (error) {
      this.failedAfter.set(`${kind}:${key}`, since(started));
      throw error;
    } finally {
      end();
    }
  }

  failed(kind: ObjectKind, key: string, error: unknown, retryInMs: number): void {
    this.metrics.reconciles.inc({ kind, result: "error" });
    const durationMs = this.failedAfter.get(`${kind}:${key}`);
    this.failedAfter.delete(`${kind}:${key}`);
    this.logger.warn("reconcile failed; retrying", {
      event: "reconcile-failed",
      [kind]: key,
      ...(durationMs !== undefined ? { durationMs } : {}),
      error: error instanceof Error ? error.message : String(error),
      retryInMs,
    });
  }
}
