/** What the controller has observed of one executor pod, with times in ms. */
export interface ExecutorFacts {
  /** The pod still exists with the UID the Task was placed on. */
  podPresent: boolean;
  ready: boolean;
  /** Since when the pod has not been Ready (undefined while Ready). */
  notReadySinceMs?: number;
  /** The last successful health check, event-stream read or listing (or when the controller first saw the pod). */
  lastContactMs: number;
}

export type LossVerdict = { lost: false } | { lost: true; message: string };

/**
 * Whether an executor is lost: at once when its pod is gone, else when it has not been Ready, or not
 * answered, for longer than `timeoutMs`. A single failed read decides nothing. Pure.
 */
export function executorLoss(facts: ExecutorFacts, nowMs: number, timeoutMs: number): LossVerdict {
  if (!facts.podPresent) return { lost: true, message: "the executor pod was deleted" };
  if (!facts.ready && facts.notReadySinceMs !== undefined && nowMs - facts.notReadySinceMs > timeoutMs) {
    return { lost: true, message: `the executor pod has not been Ready for ${Math.round((nowMs - facts.notReadySinceMs) / 1000)}s` };
  }
  if (nowMs - facts.lastContactMs > timeoutMs) {
    return { lost: true, message: `the executor has not answered for ${Math.round((nowMs - facts.lastContactMs) / 1000)}s` };
  }
  return { lost: false };
}
