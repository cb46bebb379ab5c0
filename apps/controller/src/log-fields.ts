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

/** Milliseconds to a tenth, as `durationMs` is logged. */
function tenths(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Milliseconds since `started` (`performance.now()`), to a tenth. */
export function since(started: number): number {
  return tenths(performance.now() - started);
}

/**
 * Runs reconciles with their metrics and log lines: `reconciled` (debug) with `durationMs` and the requeue asked
 * for, and `reconcile-failed` (warn) with the failed attempt's `durationMs`, the error and the retry delay.
 */
export class ReconcileLog {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
  ) {}

  async run<T extends { requeueAfterMs?: number } | void>(kind: ObjectKind, key: string, reconcile: () => Promise<T>): Promise<T> {
    const end = this.metrics.reconcileSeconds.startTimer({ kind });
    let result: T;
    let seconds = 0;
    try {
      result = await reconcile();
    } finally {
      seconds = end();
    }
    this.metrics.reconciles.inc({ kind, result: "ok" });
    const requeue = result?.requeueAfterMs;
    this.logger.debug("reconciled", { event: "reconciled", [kind]: key, durationMs: tenths(seconds * 1000), ...(requeue !== undefined ? { requeueAfterMs: requeue } : {}) });
    return result;
  }

  /** A failed reconcile, `durationMs` after it began (the work queue's measure). */
  failed(kind: ObjectKind, key: string, error: unknown, retryInMs: number, durationMs: number): void {
    this.metrics.reconciles.inc({ kind, result: "error" });
    this.logger.warn("reconcile failed; retrying", {
      event: "reconcile-failed",
      [kind]: key,
      durationMs,
      error: error instanceof Error ? error.message : String(error),
      retryInMs,
    });
  }
}
