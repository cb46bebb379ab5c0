/** Finished tasks kept per group by default: the platform keeps the newest 500 tasks of each app. */
export const DEFAULT_KEEP_PER_GROUP = 500;

/** What retention knows about one task. */
export interface RetentionCandidate {
  /** The task's name; unique among the candidates. */
  name: string;
  /** Its retention group, usually from {@link groupOf}. */
  group: string;
  /** Creation time, milliseconds since the Unix epoch. */
  createdAt: number;
  /** End time, milliseconds since the Unix epoch; undefined while the task has not finished. */
  finishedAt?: number;
  /** True when retention must leave the task alone (for example, it is part of a desired set). */
  protected: boolean;
  /** Bytes the task uses on disk. */
  bytes: number;
}

/** The limits retention enforces. */
export interface RetentionPolicy {
  /**
   * Places per group (default {@link DEFAULT_KEEP_PER_GROUP}); finished tasks beyond them are retired.
   * 0 = no count limit.
   */
  keepPerGroup?: number;
  /** Finished tasks are retired this many milliseconds after they finished. Undefined = no time limit. */
  finishedTtlMs?: number;
  /** Finished tasks are retired, oldest first, while all tasks together use more bytes. Undefined = no budget. */
  maxTotalBytes?: number;
}

/** The policy of the platform: the newest 500 tasks per group, no time limit, no disk budget. */
export const defaultRetentionPolicy: Readonly<RetentionPolicy> = Object.freeze({ keepPerGroup: DEFAULT_KEEP_PER_GROUP });

/** Why a task is retired: beyond its group's places, past its time to live, or over the disk budget. */
export type RetirementReason = "count" | "ttl" | "disk";

/** A task to retire, and the first rule that retired it. */
export interface Retirement {
  name: string;
  reason: RetirementReason;
}

function checkLimit(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  }
}

/** Checks a policy. Throws a RangeError for a negative, non-finite or (for keepPerGroup) fractional limit. */
export function validateRetentionPolicy(policy: RetentionPolicy): void {
  checkLimit("keepPerGroup", policy.keepPerGroup);
  if (policy.keepPerGroup !== undefined && !Number.isInteger(policy.keepPerGroup)) {
    throw new RangeError(`keepPerGroup must be an integer, got ${policy.keepPerGroup}`);
  }
  checkLimit("finishedTtlMs", policy.finishedTtlMs);
  checkLimit("maxTotalBytes", policy.maxTotalBytes);
}

/**
 * True when the policy sets no limit at all (`keepPerGroup: 0`, no TTL, no disk budget): no task can ever be
 * retired, so a caller need not gather candidates.
 */
export function retiresNothing(policy: RetentionPolicy): boolean {
  return policy.keepPerGroup === 0 && policy.finishedTtlMs === undefined && policy.maxTotalBytes === undefined;
}
