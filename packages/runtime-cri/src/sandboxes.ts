/**
 * Finding and removing the sandboxes of this executor. Only sandboxes labelled with this executor's id are ever
 * touched, so other executors and other CRI users (kubelet) sharing the runtime are safe.
 */
import type { Logger } from "@org/task-core";
import { isNotFound, type CriClient, type PodSandbox } from "./cri-client.js";
import { EXECUTOR_LABEL, TASK_LABEL } from "./mapping.js";

async function ignoreNotFound(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/** Removes a container (killing it first unless it is known to have exited); one already gone is fine. */
export async function removeContainer(client: CriClient, containerId: string, exited = false): Promise<void> {
  if (!exited) await ignoreNotFound(client.stopContainer(containerId, 0));
  await ignoreNotFound(client.removeContainer(containerId));
}

/** Removes a sandbox and everything in it; a sandbox that is already gone is fine. */
export async function removeSandbox(client: CriClient, sandboxId: string): Promise<void> {
  let containers: { id: string; state: string }[] = [];
  try {
    containers = await client.listContainers({ podSandboxId: sandboxId });
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  for (const container of containers) await removeContainer(client, container.id, container.state === "CONTAINER_EXITED");
  await ignoreNotFound(client.stopPodSandbox(sandboxId));
  await ignoreNotFound(client.removePodSandbox(sandboxId));
}

/** This executor's sandboxes, optionally only those of one task. */
export function listSandboxes(client: CriClient, executorId: string, taskName?: string): Promise<PodSandbox[]> {
  const selector: Record<string, string> = { [EXECUTOR_LABEL]: executorId };
  if (taskName !== undefined) selector[TASK_LABEL] = taskName;
  return client.listPodSandbox(selector);
}

/**
 * Removes this executor's sandboxes (and their containers) whose task is not in `liveTaskNames`.
 * Returns the ids of the removed sandboxes; failures are logged and the rest carries on.
 */
export async function collectGarbage(
  client: CriClient,
  executorId: string,
  liveTaskNames: Set<string>,
  logger: Logger,
): Promise<string[]> {
  const removed: string[] = [];
  for (const sandbox of await listSandboxes(client, executorId)) {
    // The selector already matched; checking again guards against a runtime that ignores label selectors.
    if (sandbox.labels[EXECUTOR_LABEL] !== executorId) continue;
    const taskName = sandbox.labels[TASK_LABEL];
    if (taskName !== undefined && liveTaskNames.has(taskName)) continue;
    try {
      await removeSandbox(client, sandbox.id);
      removed.push(sandbox.id);
      logger.info("removed the sandbox of a task that no longer exists", { task: taskName, sandboxId: sandbox.id });
    } catch (error) {
      logger.warn("cannot remove an orphaned sandbox", { task: taskName, sandboxId: sandbox.id, error: String(error) });
    }
  }
  return removed;
}
