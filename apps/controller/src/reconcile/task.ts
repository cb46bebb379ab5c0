import {
  CLEANUP_FINALIZER,
  TASK_API_VERSION,
  TASK_KIND,
  executorSpecOf,
  executorTaskName,
  isFinishedPhase,
  withCondition,
  SUCCEEDED_CONDITION,
  type TaskResource,
  type TaskResourceStatus,
} from "@org/task-api";
import { isTerminal, type NewTask } from "@org/task-core";
import type { ControllerContext } from "../context.js";
import { TASKS_BY_EXECUTOR, executorCandidates, executorFacts, placementPodKey } from "../facts.js";
import { isConflict, isNotFound } from "../kube/client.js";
import { keyOf, splitKey } from "../kube/informers.js";
import { kebab } from "../log-fields.js";
import { executorLoss } from "../policy/executor-loss.js";
import { endedWithout, observedRunOf, statusAfter } from "../policy/phase.js";
import { pickExecutor } from "../policy/placement.js";

export type ReconcileResult = { requeueAfterMs?: number } | void;

const PHASE_EVENTS: Record<string, { type: "normal" | "warning"; reason: string }> = {
  Running: { type: "normal", reason: "Started" },
  Succeeded: { type: "normal", reason: "Succeeded" },
  Failed: { type: "warning", reason: "Failed" },
  Cancelled: { type: "normal", reason: "Cancelled" },
};

/**
 * Reconciles one Task: level-based and idempotent, from the cached object, the executor pods and what the
 * executor reports. Decisions are written to the Task's status (guarded by its resourceVersion) before they
 * are acted on, so a controller that dies anywhere in between never places a Task twice.
 */
export class TaskReconciler {
  /** Tasks a stop was sent for, by executor-side name (a stop is sent once per controller run). */
  private readonly stopsSent = new Set<string>();

  constructor(private readonly context: ControllerContext) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const task = this.context.tasks.get(key);
    if (!task) return;
    if (task.metadata.deletionTimestamp) return this.finalize(task);
    const status = task.status ?? {};
    if (isFinishedPhase(status.phase)) return;
    if (!status.executor) return this.place(task, status);
    return this.follow(task, status);
  }

  /** The executor-shaped desired set of one executor pod: every Task placed there that it should hold. */
  desiredSet(podKey: string): NewTask[] {
    const pod = this.context.pods.get(podKey);
    const connection = this.context.pool.get(podKey);
    const desired: NewTask[] = [];
    for (const task of this.context.tasks.byIndex(TASKS_BY_EXECUTOR, podKey)) {
      const placement = task.status?.executor;
      if (!placement) continue;
      if (placement.podUID && pod?.metadata?.uid && placement.podUID !== pod.metadata.uid) continue;
      if (task.metadata.deletionTimestamp) continue;
      // A finished Task the executor no longer holds keeps its recorded outcome and is never sent again. One that
      // ended ExecutorLost is never sent either: should its executor come back still running it, the run the Task
      // gave up on is stopped and removed there, not left running beside the recorded failure.
      if (isFinishedPhase(task.status?.phase) && (task.status?.reason === "ExecutorLost" || !connection?.observed.has(placement.taskName))) continue;
      desired.push({
        name: placement.taskName,
        ...(task.metadata.labels ? { labels: task.metadata.labels } : {}),
        spec: executorSpecOf(task.spec),
      });
    }
    return desired;
  }

  private async place(task: TaskResource, status: TaskResourceStatus): Promise<ReconcileResult> {
    const now = new Date();
    if (task.spec.terminated) {
      await this.writeStatus(task, endedWithout(status, "Cancelled", "Cancelled", "cancelled before it was placed", now));
      this.event(task, "normal", "Cancelled", "cancelled before it was placed; it did not run");
      return;
    }
    const kind = task.spec.container !== undefined ? "container" : "process";
    const decision = pickExecutor(
      {
        namespace: task.metadata.namespace ?? "",
        kind,
        ...(task.spec.executorSelector ? { executorSelector: task.spec.executorSelector } : {}),
        ...(this.context.config.executorNamespace ? { executorNamespace: this.context.config.executorNamespace } : {}),
      },
      executorCandidates(this.context),
    );
    if (!decision.executor && decision.undecided) return { requeueAfterMs: 200 };
    if (!decision.executor) {
      if (status.phase !== "Pending" || status.reason !== "NoExecutor" || status.message !== decision.reason) {
        await this.writeStatus(task, {
          ...status,
          phase: "Pending",
          reason: "NoExecutor",
          message: decision.reason,
          observedGeneration: task.metadata.generation,
          conditions: withCondition(status.conditions, {
            type: SUCCEEDED_CONDITION,
            status: "Unknown",
            reason: "NoExecutor",
            message: decision.reason,
            lastTransitionTime: now.toISOString(),
          }),
        });
        this.event(task, "warning", "NoExecutor", decision.reason);
      }
      // Placed as soon as an executor appears (executor changes requeue every pending Task).
      return { requeueAfterMs: 5_000 };
    }
    const withFinalizer = await this.ensureFinalizer(task);
    const podKey = decision.executor.key;
    const pod = this.context.pods.get(podKey)!;
    const attempts = (status.attempts ?? 0) + 1;
    const { namespace: podNamespace, name: podName } = splitKey(podKey);
    const placed: TaskResourceStatus = {
      ...status,
      phase: "Scheduled",
      reason: "Placed",
      message: `placed on executor pod ${podName}`,
      executor: {
        pod: podName,
        namespace: podNamespace,
        ...(pod.metadata?.uid ? { podUID: pod.metadata.uid } : {}),
        ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
        address: this.context.pool.get(podKey)?.address ?? "",
        taskName: executorTaskName(task.metadata.namespace ?? "", task.metadata.name ?? "", task.metadata.uid ?? "", attempts),
      },
      attempts,
      observedGeneration: task.metadata.generation,
      conditions: withCondition(status.conditions, {
        type: SUCCEEDED_CONDITION,
        status: "Unknown",
        reason: "Scheduled",
        message: `placed on executor pod ${podName}`,
        lastTransitionTime: now.toISOString(),
      }),
    };
    const key = keyOf(task);
    this.context.placing.set(key, podKey);
    try {
      await this.writeStatus(withFinalizer, placed);
    } finally {
      this.context.placing.delete(key);
    }
    this.context.metrics.placements.inc();
    this.event(task, "normal", "Scheduled", `placed on executor pod ${podName} (attempt ${attempts})`, { executor: podKey, attempt: attempts, executorTask: placed.executor!.taskName });
    void this.context.pool.get(podKey)?.requestPush();
  }

  private async follow(task: TaskResource, status: TaskResourceStatus): Promise<ReconcileResult> {
    const placement = status.executor!;
    const podKey = placementPodKey(task)!;
    const now = new Date();
    const verdict = executorLoss(executorFacts(this.context, podKey, placement.podUID), now.getTime(), this.context.config.executorLostTimeoutMs);
    if (verdict.lost) return this.executorLost(task, status, verdict.message);
    const connection = this.context.pool.get(podKey);
    if (!connection) return { requeueAfterMs: 1_000 };
    const observed = connection.observed.get(placement.taskName);
    if (!observed) {
      if (placement.acceptedTime && connection.listed) {
        return this.executorLost(task, status, `executor pod ${placement.pod} no longer has the task (its data was lost)`);
      }
      void connection.requestPush();
      return { requeueAfterMs: 2_000 };
    }
    if (task.spec.terminated && !isTerminal(observed.status.state) && !this.stopsSent.has(placement.taskName)) {
      this.stopsSent.add(placement.taskName);
      try {
        await connection.stopTask(placement.taskName);
        this.context.logger.info("stop sent to the executor", { event: "stop-sent", task: keyOf(task), executor: podKey });
      } catch (error) {
        this.stopsSent.delete(placement.taskName);
        throw error;
      }
    }
    const next = statusAfter(status, observedRunOf(observed.status.state), now);
    const accepted = placement.acceptedTime ? undefined : { ...placement, acceptedTime: now.toISOString() };
    if (!next && !accepted) return;
    const written = { ...(next ?? status), ...(accepted ? { executor: accepted } : {}), observedGeneration: task.metadata.generation };
    await this.writeStatus(task, written);
    if (next && next.phase !== status.phase && next.phase) {
      const event = PHASE_EVENTS[next.phase];
      if (event) {
        this.event(task, event.type, event.reason, describeOutcome(next), {
          phase: next.phase,
          ...(next.exitCode !== undefined ? { exitCode: next.exitCode } : {}),
          ...(next.reason ? { reason: next.reason } : {}),
        });
      }
    }
  }

  private async executorLost(task: TaskResource, status: TaskResourceStatus, message: string): Promise<ReconcileResult> {
    const attempts = status.attempts ?? 1;
    if (attempts <= task.spec.backoffLimit) {
      const { executor: _lost, ...rest } = status;
      this.event(task, "warning", "ExecutorLost", `${message}; placing it again (attempt ${attempts + 1} of ${task.spec.backoffLimit + 1})`, { placedAgain: true });
      // The next reconcile places it afresh; attempts counts placements.
      await this.writeStatus(task, { ...rest, phase: "Pending", reason: "ExecutorLost", message });
      // The old executor, should it come back, drops the task: it is no longer in its desired set.
      void this.context.pool.get(placementPodKey(task) ?? "")?.requestPush();
      return { requeueAfterMs: 0 };
    }
    await this.writeStatus(task, endedWithout(status, "Failed", "ExecutorLost", message, new Date()));
    this.event(task, "warning", "ExecutorLost", message, { placedAgain: false });
    void this.context.pool.get(placementPodKey(task) ?? "")?.requestPush();
  }

  /** A deleted Task: the finalizer goes once its executor dropped the task (or is gone, or the timeout passed). */
  private async finalize(task: TaskResource): Promise<ReconcileResult> {
    if (!task.metadata.finalizers?.includes(CLEANUP_FINALIZER)) return;
    const placement = task.status?.executor;
    const podKey = placementPodKey(task);
    if (!placement || !podKey) return this.removeFinalizer(task);
    const facts = executorFacts(this.context, podKey, placement.podUID);
    if (!facts.podPresent) return this.removeFinalizer(task);
    const connection = this.context.pool.get(podKey);
    if (connection?.listed && !connection.observed.has(placement.taskName)) return this.removeFinalizer(task);
    void connection?.requestPush();
    // deletionTimestamp has a resolution of one second: count from the end of that second, so the wait is never short.
    const waited = Date.now() - (Date.parse(task.metadata.deletionTimestamp!) + 1_000);
    if (waited > this.context.config.deleteTimeoutMs) {
      this.event(task, "warning", "CleanupTimeout", `executor pod ${placement.pod} did not confirm it dropped the task within ${Math.round(waited / 1000)}s; removing the finalizer`);
      return this.removeFinalizer(task);
    }
    return { requeueAfterMs: Math.min(2_000, this.context.config.deleteTimeoutMs - waited + 10) };
  }

  private async ensureFinalizer(task: TaskResource): Promise<TaskResource> {
    const finalizers = task.metadata.finalizers ?? [];
    if (finalizers.includes(CLEANUP_FINALIZER)) return task;
    const updated = await this.context.api.setTaskFinalizers(task, [...finalizers, CLEANUP_FINALIZER]);
    this.context.tasks.apply(updated);
    return updated;
  }

  private async removeFinalizer(task: TaskResource): Promise<void> {
    try {
      const updated = await this.context.api.setTaskFinalizers(task, (task.metadata.finalizers ?? []).filter((name) => name !== CLEANUP_FINALIZER));
      this.context.tasks.apply(updated);
      const executor = placementPodKey(task);
      this.context.logger.info("finalizer removed", { event: "finalized", task: keyOf(task), ...(executor ? { executor } : {}) });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  private async writeStatus(task: TaskResource, status: TaskResourceStatus): Promise<void> {
    try {
      const updated = await this.context.api.writeTaskStatus(task, status);
      this.context.tasks.apply(updated);
    } catch (error) {
      if (isNotFound(error)) return;
      if (isConflict(error)) throw new Error(`Task ${keyOf(task)} changed while it was reconciled; retrying`);
      throw error;
    }
  }

  /** A Kubernetes Event on the Task, and the same as a log line (`event` is the reason in kebab case). */
  private event(task: TaskResource, type: "normal" | "warning", reason: string, message: string, fields: Record<string, unknown> = {}): void {
    const target = { apiVersion: TASK_API_VERSION, kind: TASK_KIND, metadata: task.metadata };
    if (type === "normal") this.context.recorder.normal(target, reason, message);
    else this.context.recorder.warning(target, reason, message);
    const executor = placementPodKey(task);
    this.context.logger[type === "normal" ? "info" : "warn"](message, { event: kebab(reason), task: keyOf(task), ...(executor ? { executor } : {}), ...fields });
  }
}

function describeOutcome(status: TaskResourceStatus): string {
  if (status.phase === "Running") return `started on executor pod ${status.executor?.pod ?? "?"}`;
  const code = status.exitCode !== undefined ? ` with exit code ${status.exitCode}` : "";
  return `${status.phase}${code}${status.reason && status.reason !== status.phase ? ` (${status.reason})` : ""}${status.message ? `: ${status.message}` : ""}`;
}
