import { afterEach } from "vitest";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  TASK_API_VERSION,
  TASK_GROUP,
  TASK_KIND,
  TASK_PLURAL,
  TASK_VERSION,
  type TaskResource,
  type TaskResourceSpec,
} from "@org/task-api";
import {
  createTestNamespace,
  kubeTestEnvFromEnv,
  startController as startControllerProcess,
  startExecutorPod,
  waitFor,
  type ControllerProcess,
  type ExecutorPod,
  type ExecutorPodOptions,
  type KubeTestEnv,
} from "@org/testkit";

export type { ControllerProcess };

export const env = (): KubeTestEnv => kubeTestEnvFromEnv();

/** The built controller as a child process against the test API server (leader election off unless asked). */
export function startController(args: string[] = [], options: { waitFor?: "synced" | "started" } = {}): Promise<ControllerProcess> {
  return startControllerProcess({
    kubeconfigPath: env().kubeconfigPath,
    args,
    ...options,
    ...(process.env.CONTROLLER_TEST_LOG ? { logFile: process.env.CONTROLLER_TEST_LOG } : {}),
  });
}

export async function newNamespace(prefix: string): Promise<string> {
  return createTestNamespace(env(), prefix);
}

let podCount = 0;

/** A real executor in its own network namespace, registered as a Ready executor pod. */
export async function executorPod(namespace: string, options: Partial<ExecutorPodOptions> = {}): Promise<ExecutorPod> {
  podCount += 1;
  // A loaded 2-core machine can take a while to start a process in a fresh network namespace.
  return startExecutorPod(env(), { namespace, name: options.name ?? `executor-${podCount}`, ...options, executor: { startTimeoutMs: 60_000, ...options.executor } });
}

function customObjects() {
  return env().customObjects();
}

export function taskObject(name: string, spec: Partial<TaskResourceSpec>, labels?: Record<string, string>): TaskResource {
  return {
    apiVersion: TASK_API_VERSION,
    kind: TASK_KIND,
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: spec as TaskResourceSpec,
  };
}

export async function createTask(namespace: string, task: TaskResource): Promise<TaskResource> {
  return customObjects().createNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace, body: task });
}

export async function getTask(namespace: string, name: string): Promise<TaskResource | undefined> {
  try {
    return await customObjects().getNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace, name });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

export async function listTasks(namespace: string): Promise<TaskResource[]> {
  const list = await customObjects().listNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace });
  return list.items as TaskResource[];
}

export async function patchTaskSpec(namespace: string, name: string, spec: Record<string, unknown>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import("@kubernetes/client-node");
  await customObjects().patchNamespacedCustomObject(
    { group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace, name, body: { spec } },
    setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
  );
}

export async function deleteTask(namespace: string, name: string): Promise<void> {
  await customObjects().deleteNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_PLURAL, namespace, name });
}

/** Waits until the Task's status satisfies `check`; returns the Task. */
export async function waitForTask(namespace: string, name: string, check: (task: TaskResource) => boolean, timeoutMs = 30_000): Promise<TaskResource> {
  let last: TaskResource | undefined;
  try {
    return await waitFor(async () => {
      last = await getTask(namespace, name);
      return last && check(last) ? last : undefined;
    }, timeoutMs, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last?.status ?? last ?? null)}`);
  }
}

export const phaseIs = (...phases: string[]) => (task: TaskResource) => phases.includes(task.status?.phase ?? "");

/** A file tasks append a line to each time they run, to count runs. */
export function runLog(): { path: string; runs(): string[] } {
  const path = join(mkdtempSync(join(tmpdir(), "task-runs-")), "runs.log");
  return {
    path,
    runs: () => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : []),
  };
}

/** A process spec that records its run in `log` (by the Task name passed as `$1`), then runs `script`. */
export function recordingSpec(log: string, label: string, script = "true"): Partial<TaskResourceSpec> {
  return { process: { command: ["sh", "-c", `echo "${label}" >> ${log}; ${script}`] } };
}

/**
 * Controllers and executor pods that live for one test: registers an `afterEach` that stops them (newest
 * first), and returns starters that record what they start.
 */
export function perTestProcesses() {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  return {
    async controller(args: string[] = [], options: { waitFor?: "synced" | "started" } = {}): Promise<ControllerProcess> {
      const started = await startController(args, options);
      cleanups.push(() => started.stop());
      return started;
    },
    async executors(namespace: string, count: number, options: Partial<ExecutorPodOptions> = {}): Promise<ExecutorPod[]> {
      const pods: ExecutorPod[] = [];
      for (let i = 0; i < count; i++) {
        const pod = await executorPod(namespace, options);
        cleanups.push(() => pod.stop());
        pods.push(pod);
      }
      return pods;
    },
  };
}
