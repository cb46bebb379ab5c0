/**
 * @org/retention — pure retention policy: which finished tasks to retire. No I/O; callers (the executor, a
 * Kubernetes controller) gather the candidates and carry out the result.
 *
 * - Groups: {@link groupOf} (app label, else the {@link GLOBAL_GROUP})
 * - Inputs: {@link RetentionCandidate}, {@link RetentionPolicy}, {@link defaultRetentionPolicy}, {@link retiresNothing}
 * - The decision: {@link selectRetirements} → {@link Retirement}[] (count per group, TTL, disk budget)
 */
export { groupOf, GLOBAL_GROUP, APP_NAME_LABEL, APP_LABEL } from "./groups.js";
export {
  DEFAULT_KEEP_PER_GROUP,
  defaultRetentionPolicy,
  retiresNothing,
  validateRetentionPolicy,
  type RetentionCandidate,
  type RetentionPolicy,
  type Retirement,
  type RetirementReason,
} from "./policy.js";
export { selectRetirements, compareForPlaces, compareOldestFinished } from "./select.js";
