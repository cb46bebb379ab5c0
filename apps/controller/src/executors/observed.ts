import { phaseOf, type Task, type TaskPhase } from "@org/task-core";

const ORDER: Record<TaskPhase, number> = { waiting: 0, running: 1, terminated: 2 };

/**
 * Merges what an event says of a task into what is known of it. Events and listings carry whole tasks and
 * may arrive out of order around a re-list, so a state never moves back (a `running` after `terminated` is
 * stale). Pure.
 */
export function mergeObserved(known: Task | undefined, incoming: Task): Task {
  if (!known) return incoming;
  if (known.creationTimestamp && incoming.creationTimestamp && known.creationTimestamp !== incoming.creationTimestamp) return incoming;
  return ORDER[phaseOf(incoming.status.state)] >= ORDER[phaseOf(known.status.state)] ? incoming : known;
}
