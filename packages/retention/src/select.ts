import {
  DEFAULT_KEEP_PER_GROUP,
  validateRetentionPolicy,
  type RetentionCandidate,
  type RetentionPolicy,
  type Retirement,
} from "./policy.js";

/** Orders names by UTF-16 code units (locale independent). */
function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const isFinished = (task: RetentionCandidate): boolean => task.finishedAt !== undefined;

/**
 * The place order within a group: unfinished tasks first, then finished ones; each newest first by
 * `createdAt`; equal times by name, ascending.
 */
export function compareForPlaces(a: RetentionCandidate, b: RetentionCandidate): number {
  if (isFinished(a) !== isFinished(b)) return isFinished(a) ? 1 : -1;
  return b.createdAt - a.createdAt || byName(a.name, b.name);
}

/** The retirement order for TTL and disk: finished longest ago first, then created first, then by name. */
export function compareOldestFinished(a: RetentionCandidate, b: RetentionCandidate): number {
  return (a.finishedAt ?? Infinity) - (b.finishedAt ?? Infinity) || a.createdAt - b.createdAt || byName(a.name, b.name);
}

/** Only finished tasks that are not protected can ever be retired. */
const retirable = (task: RetentionCandidate): boolean => isFinished(task) && !task.protected;

/**
 * Decides which tasks to retire. Pure and deterministic: no I/O, no clock (`nowMs` is the time), and the
 * result does not depend on the order of `candidates` (names are expected to be unique).
 *
 * Never retired: unfinished tasks (no `finishedAt`) and protected tasks. Both still count in the rules below.
 *
 * The rules, in this order; a task is retired at most once, with the reason of the first rule retiring it:
 *
 * 1. `count` — each group's tasks take places in the order of {@link compareForPlaces}: unfinished tasks
 *    first, then finished ones, each newest `createdAt` first, ties by name. Every task takes a place,
 *    unfinished and protected ones included. Finished unprotected tasks at a place beyond `keepPerGroup`
 *    (default 500) are retired. `keepPerGroup: 0` sets no count limit.
 * 2. `ttl` — with `finishedTtlMs`, finished unprotected tasks with `finishedAt + finishedTtlMs <= nowMs`.
 * 3. `disk` — with `maxTotalBytes`, while the `bytes` of all tasks not yet retired add up to more than it,
 *    finished unprotected tasks are retired in the order of {@link compareOldestFinished} (finished longest
 *    ago first, then created first, then by name). Unfinished and protected tasks use the budget but are not
 *    retired, so the total may stay above it.
 *
 * The result lists the `count` retirements (groups by name, each in place order), then the `ttl` ones and
 * then the `disk` ones (each in the order of {@link compareOldestFinished}).
 *
 * @throws RangeError when the policy holds a negative, non-finite or fractional (`keepPerGroup`) limit.
 */
export function selectRetirements(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  nowMs: number,
): Retirement[] {
  validateRetentionPolicy(policy);
  const keepPerGroup = policy.keepPerGroup ?? DEFAULT_KEEP_PER_GROUP;
  const retired = new Set<string>();
  const result: Retirement[] = [];
  const retire = (task: RetentionCandidate, reason: Retirement["reason"]): void => {
    if (retired.has(task.name)) return;
    retired.add(task.name);
    result.push({ name: task.name, reason });
  };

  if (keepPerGroup > 0) {
    const groups = new Map<string, RetentionCandidate[]>();
    for (const task of candidates) {
      const members = groups.get(task.group);
      if (members) members.push(task);
      else groups.set(task.group, [task]);
    }
    for (const group of [...groups.keys()].sort(byName)) {
      const ranked = groups.get(group)!.sort(compareForPlaces);
      for (const task of ranked.slice(keepPerGroup)) if (retirable(task)) retire(task, "count");
    }
  }

  const byAge = candidates.filter(retirable).sort(compareOldestFinished);

  const ttl = policy.finishedTtlMs;
  if (ttl !== undefined) {
    for (const task of byAge) if (task.finishedAt! + ttl <= nowMs) retire(task, "ttl");
  }

  const budget = policy.maxTotalBytes;
  if (budget !== undefined) {
    let total = candidates.reduce((sum, task) => (retired.has(task.name) ? sum : sum + task.bytes), 0);
    for (const task of byAge) {
      if (total <= budget) break;
      if (retired.has(task.name)) continue;
      retire(task, "disk");
      total -= task.bytes;
    }
  }

  return result;
}
