import { createHash } from "node:crypto";

/**
 * Longest executor-side name the controller generates. Executors accept longer names, but a DNS subdomain's
 * length keeps the names readable in listings and valid for every executor version.
 */
export const EXECUTOR_TASK_NAME_MAX = 253;

/**
 * The name a Task has on its executor: `<namespace>.<name>.<uid>`, with `.<attempt>` from the second
 * placement on. The UID makes a Task deleted and created again under the same name a different task; a name
 * longer than {@link EXECUTOR_TASK_NAME_MAX} keeps its start and ends in a hash of the whole.
 */
export function executorTaskName(namespace: string, name: string, uid: string, attempt = 1): string {
  const full = [namespace, name, uid, ...(attempt > 1 ? [String(attempt)] : [])].join(".");
  if (full.length <= EXECUTOR_TASK_NAME_MAX) return full;
  const hash = createHash("sha256").update(full).digest("hex").slice(0, 16);
  const suffix = `.${uid}${attempt > 1 ? `.${attempt}` : ""}.${hash}`;
  const head = `${namespace}.${name}`.slice(0, EXECUTOR_TASK_NAME_MAX - suffix.length).replace(/[._-]+$/, "");
  return `${head}${suffix}`;
}
