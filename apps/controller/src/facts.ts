import type * as k8s from "@kubernetes/client-node";
import { isFinishedPhase, type TaskResource } from "@org/task-api";
import type { ControllerContext } from "./context.js";
import { keyOf, type ObjectStore } from "./kube/informers.js";
import type { ExecutorFacts } from "./policy/executor-loss.js";
import type { ExecutorCandidate } from "./policy/placement.js";

/** `namespace/name` of the executor pod a Task is placed on. */
export function placementPodKey(task: TaskResource): string | undefined {
  const placement = task.status?.executor;
  if (!placement) return undefined;
  return `${placement.namespace ?? task.metadata.namespace}/${placement.pod}`;
}

export function isPodReady(pod: k8s.V1Pod): boolean {
  return pod.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false;
}

/** Since when a pod has not been Ready, no earlier than `floorMs` (a new leader gives every pod a full timeout). */
function notReadySince(pod: k8s.V1Pod, floorMs: number): number | undefined {
  if (isPodReady(pod)) return undefined;
  const ready = pod.status?.conditions?.find((condition) => condition.type === "Ready");
  const since = ready?.lastTransitionTime ? new Date(ready.lastTransitionTime).getTime() : floorMs;
  return Math.max(floorMs, Number.isFinite(since) ? since : floorMs);
}

/** What is known of the executor at `podKey`, for the loss rule. */
export function executorFacts(context: ControllerContext, podKey: string, podUID: string | undefined): ExecutorFacts {
  const pod = context.pods.get(podKey);
  const connection = context.pool.get(podKey);
  const present = pod !== undefined && pod.metadata?.deletionTimestamp === undefined && (podUID === undefined || pod.metadata?.uid === podUID);
  const lastContactMs = Math.max(context.leadingSinceMs, connection?.lastContactMs ?? 0);
  return {
    podPresent: present,
    ready: pod ? isPodReady(pod) : false,
    ...(pod ? { notReadySinceMs: notReadySince(pod, context.leadingSinceMs) } : {}),
    lastContactMs: connection ? lastContactMs : context.leadingSinceMs,
  };
}

/** Index of the Task cache: every Task placed on an executor pod, by that pod's key. */
export const TASKS_BY_EXECUTOR = "tasks-by-executor";
/** Index of the Task cache: unfinished Tasks by the executor pod they are placed on. */
export const UNFINISHED_TASKS_BY_EXECUTOR = "unfinished-tasks-by-executor";

/**
 * Adds the indexes the controller reads Tasks by: per-executor questions (its desired set, its load, its loss)
 * then cost what is placed there, not a walk over every Task in the cluster.
 */
export function indexTasks(tasks: ObjectStore<TaskResource>): void {
  tasks.addIndex(TASKS_BY_EXECUTOR, placementPodKey);
  tasks.addIndex(UNFINISHED_TASKS_BY_EXECUTOR, (task) => (isFinishedPhase(task.status?.phase) ? undefined : placementPodKey(task)));
}

/** Unfinished Tasks per executor pod, placements in flight included. */
export function executorLoads(context: ControllerContext): Map<string, number> {
  const loads = context.tasks.indexCounts(UNFINISHED_TASKS_BY_EXECUTOR);
  for (const [taskKey, podKey] of context.placing) {
    // A placement in flight counts on its target pod, once: not also where the cache may already show it.
    const task = context.tasks.get(taskKey);
    const counted = task && !isFinishedPhase(task.status?.phase) ? placementPodKey(task) : undefined;
    if (counted !== undefined) loads.set(counted, (loads.get(counted) ?? 1) - 1);
    loads.set(podKey, (loads.get(podKey) ?? 0) + 1);
  }
  return loads;
}

/** Every executor pod as a placement candidate. */
export function executorCandidates(context: ControllerContext): ExecutorCandidate[] {
  const loads = executorLoads(context);
  const now = Date.now();
  return context.pods.list().flatMap((pod) => {
    const key = keyOf(pod);
    if (pod.metadata?.deletionTimestamp) return [];
    const connection = context.pool.get(key);
    const facts = executorFacts(context, key, undefined);
    const recentlyAnswered = connection !== undefined && connection.healthy && now - connection.lastContactMs <= context.config.executorLostTimeoutMs;
    return [
      {
        key,
        namespace: pod.metadata?.namespace ?? "",
        labels: pod.metadata?.labels ?? {},
        available: facts.ready && recentlyAnswered,
        modes: connection?.modes ?? [],
        unfinished: loads.get(key) ?? 0,
        unknown: facts.ready && connection !== undefined && !connection.checked,
      },
    ];
  });
}
