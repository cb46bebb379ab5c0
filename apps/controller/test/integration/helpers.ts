import { spawn, type ChildProcess } from "node:child_process";
import { afterEach } from "vitest";
import { appendFileSync, mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
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
  startExecutorPod,
  waitFor,
  type ExecutorPod,
  type ExecutorPodOptions,
  type KubeTestEnv,
} from "@org/testkit";

/** The built controller's entry point. */
export const CONTROLLER_BIN = fileURLToPath(new URL("../../bin/task-controller.js", import.meta.url));

export const env = (): KubeTestEnv => kubeTestEnvFromEnv();

export interface ControllerProcess {
  child: ChildProcess;
  output: string[];
  healthUrl: string | undefined;
  /** Resolves when a log line matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Starts the real controller as a child process against the test API server; resolves once it leads and its
 * informers synced (or, with `waitFor: "started"`, once it runs at all).
 */
export async function startController(args: string[] = [], options: { waitFor?: "synced" | "started" } = {}): Promise<ControllerProcess> {
  const child = spawn(process.execPath, [CONTROLLER_BIN, `--kubeconfig=${env().kubeconfigPath}`, "--health-addr=127.0.0.1:0", "--metrics-addr=off", "--leader-elect=false", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onLine = (line: string) => {
    output.push(line);
    if (process.env.CONTROLLER_TEST_LOG) appendFileSync(process.env.CONTROLLER_TEST_LOG, `${line}\n`);
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(line)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on("line", onLine);
  createInterface({ input: child.stderr! }).on("line", onLine);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const waitForLog = (pattern: RegExp, timeoutMs = 30_000) => {
    const seen = output.find((line) => pattern.test(line));
    if (seen) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line ${pattern} within ${timeoutMs} ms:\n${output.slice(-30).join("\n")}`)), timeoutMs);
      waiters.push({ pattern, resolve: (line) => (clearTimeout(timer), resolve(line)) });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`controller exited:\n${output.slice(-30).join("\n")}`));
      });
    });
  };
  const listening = await waitForLog(/"server":"health"/, 60_000);
  const address = /"address":"([^"]+)"/.exec(listening)?.[1];
  if (options.waitFor !== "started") await waitForLog(/informers synced/, 60_000);
  return {
    child,
    output,
    healthUrl: address ? `http://${address}` : undefined,
    waitForLog,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
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
