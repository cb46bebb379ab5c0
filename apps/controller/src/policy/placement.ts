import { selectorMatches, type LabelSelector } from "@org/task-api";
import type { ExecutorMode } from "@org/task-core";

/** What placement knows about one executor pod. */
export interface ExecutorCandidate {
  /** `namespace/name` of the pod. */
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** The pod is Ready, its executor answered and it is not lost. */
  available: boolean;
  /** What its `/health` says it runs; empty when it did not say (process only). */
  modes: readonly ExecutorMode[];
  /** Tasks placed on it that have not finished. */
  unfinished: number;
  /** Its first health check has not answered yet: whether it is available is not known. */
  unknown?: boolean;
}

export interface PlacementRequest {
  namespace: string;
  kind: ExecutorMode;
  executorSelector?: LabelSelector;
  /** Executors of this namespace serve every namespace (`--executor-namespace`); else only the Task's own. */
  executorNamespace?: string;
}

/** The executor to place on, or why there is none (`undecided` while an executor is not known yet: ask again soon). */
export type PlacementDecision = { executor: ExecutorCandidate } | { executor?: undefined; reason: string; undecided?: boolean };

/** The modes an executor runs: what it reports, and process alone when it reports nothing. */
export function modesOf(reported: readonly ExecutorMode[] | undefined): readonly ExecutorMode[] {
  return reported && reported.length > 0 ? reported : ["process"];
}

/**
 * Picks the executor for a Task: available, in the right namespace, matching the selector, able to run the
 * task's kind, with the fewest unfinished tasks (ties by key, so the choice is deterministic). Pure.
 */
export function pickExecutor(request: PlacementRequest, candidates: readonly ExecutorCandidate[]): PlacementDecision {
  const namespace = request.executorNamespace ?? request.namespace;
  const inNamespace = candidates.filter((candidate) => candidate.namespace === namespace);
  const matching = inNamespace.filter((candidate) => selectorMatches(request.executorSelector, candidate.labels));
  const capable = matching.filter((candidate) => modesOf(candidate.modes).includes(request.kind));
  const available = capable.filter((candidate) => candidate.available);
  if (available.length === 0 && capable.some((candidate) => candidate.unknown)) {
    return { reason: "an executor's first health check has not answered yet", undecided: true };
  }
  const best = [...available].sort((a, b) => a.unfinished - b.unfinished || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))[0];
  if (best) return { executor: best };
  if (inNamespace.length === 0) return { reason: `no executor pods in namespace ${namespace}` };
  if (matching.length === 0) return { reason: `none of the ${inNamespace.length} executor pods in namespace ${namespace} matches the executorSelector` };
  if (capable.length === 0) return { reason: `no matching executor runs ${request.kind} tasks` };
  return { reason: `none of the ${capable.length} matching executors is ready and reachable` };
}
