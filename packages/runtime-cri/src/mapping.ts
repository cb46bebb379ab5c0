/**
 * Pure translations between the executor's model and CRI messages: spec → sandbox and container configs,
 * resources → LinuxContainerResources, ContainerStatus → ExitResult.
 */
import { parseQuantity, reasonForExitCode, TIMEOUT_EXIT_CODE, type ContainerSpec, type ExitResult, type Resources, type RuntimeTask, type TaskSpec } from "@org/task-core";
import type { ContainerConfig, ContainerStatus, LinuxContainerResources, NamespaceOption, PodSandboxConfig } from "./cri-client.js";

/** Label carrying the executor id on every sandbox and container this runtime creates. */
export const EXECUTOR_LABEL = "task-executor.io/executor-id";
/** Label carrying the task name. */
export const TASK_LABEL = "task-executor.io/task-name";
/** Pod namespace recorded in the sandbox metadata. */
export const POD_NAMESPACE = "task-executor";
/** The container's log file, relative to the task directory (the sandbox's log directory). */
export const CONTAINER_LOG = "container.log";
/** CFS period used for CPU limits, in microseconds. */
export const CPU_PERIOD_US = 100_000;
/** Smallest CFS quota the kernel accepts (1 ms). */
const MIN_CPU_QUOTA_US = 1_000;

/** Every task runs in its own sandbox with the node's network and a PID namespace shared by the pod. */
const NAMESPACES: NamespaceOption = { network: "NODE", pid: "POD", ipc: "POD" };

function containerSpecOf(spec: TaskSpec | ContainerSpec): ContainerSpec | undefined {
  return "image" in spec ? spec : spec.container;
}

/** The volume names a spec mounts that the executor was not configured with. */
export function unknownVolumes(spec: TaskSpec | ContainerSpec, volumes: Record<string, string>): string[] {
  const names = (containerSpecOf(spec)?.volumeMounts ?? []).map((mount) => mount.name);
  return [...new Set(names.filter((name) => !Object.hasOwn(volumes, name)))];
}

/** A spec mounts volumes the executor was not configured with. */
export class UnknownVolumeError extends Error {
  constructor(
    /** The unknown names. */
    readonly names: string[],
    /** Index in `volumeMounts` of the first mount naming one. */
    readonly index: number,
    readonly configured: string[],
  ) {
    super(`unknown volume ${names.map((name) => `'${name}'`).join(", ")}: configured volumes are ${configured.join(", ") || "none"} (--volume NAME=PATH)`);
    this.name = "UnknownVolumeError";
  }
}

/**
 * The volume check, in one place: throws {@link UnknownVolumeError} when the spec mounts a volume that is not
 * configured. The executor runs it when a task is created (a 400) and {@link containerConfig} when it is started
 * (a task accepted before a restart with other volumes).
 */
export function checkVolumes(spec: TaskSpec | ContainerSpec, volumes: Record<string, string>): void {
  const unknown = unknownVolumes(spec, volumes);
  if (unknown.length === 0) return;
  const index = (containerSpecOf(spec)?.volumeMounts ?? []).findIndex((mount) => unknown.includes(mount.name));
  throw new UnknownVolumeError(unknown, index, Object.keys(volumes));
}

/** CPU and memory limits as CRI resources; undefined when neither is set. */
export function criResources(resources: Resources | undefined): LinuxContainerResources | undefined {
  const limits = resources?.limits;
  const out: LinuxContainerResources = {};
  const cores = limits?.cpu !== undefined ? parseQuantity(limits.cpu) : undefined;
  if (cores !== undefined && cores > 0) {
    out.cpu_period = CPU_PERIOD_US;
    out.cpu_quota = Math.max(MIN_CPU_QUOTA_US, Math.round(cores * CPU_PERIOD_US));
  }
  const bytes = limits?.memory !== undefined ? parseQuantity(limits.memory) : undefined;
  if (bytes !== undefined && bytes > 0) out.memory_limit_in_bytes = Math.max(1, Math.floor(bytes));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Labels that let this executor find the task's sandbox and container again. */
export function taskLabels(taskName: string, executorId: string): Record<string, string> {
  return { [EXECUTOR_LABEL]: executorId, [TASK_LABEL]: taskName };
}

/** The sandbox of a task; `uid` makes every start attempt's sandbox unique. */
export function sandboxConfig(task: RuntimeTask, executorId: string, uid: string): PodSandboxConfig {
  return {
    metadata: { name: task.name, uid, namespace: POD_NAMESPACE, attempt: 0 },
    log_directory: task.dir,
    labels: taskLabels(task.name, executorId),
    linux: { security_context: { namespace_options: NAMESPACES } },
  };
}

/** The task's container. Throws {@link UnknownVolumeError} when a volume name is not configured. */
export function containerConfig(task: RuntimeTask, executorId: string, volumes: Record<string, string>): ContainerConfig {
  const spec = task.spec.container;
  if (!spec) throw new Error(`task ${task.name} has no container spec`);
  checkVolumes(spec, volumes);
  const resources = criResources(spec.resources);
  return {
    metadata: { name: "task", attempt: 0 },
    image: { image: spec.image },
    command: spec.command ?? [],
    args: spec.args ?? [],
    working_dir: spec.workingDir ?? "",
    envs: (spec.env ?? []).map((env) => ({ key: env.name, value: env.value ?? "" })),
    mounts: (spec.volumeMounts ?? []).map((mount) => ({
      container_path: mount.mountPath,
      host_path: volumes[mount.name] as string,
      readonly: mount.readOnly === true,
    })),
    labels: taskLabels(task.name, executorId),
    log_path: CONTAINER_LOG,
    linux: { ...(resources ? { resources } : {}), security_context: { namespace_options: NAMESPACES } },
  };
}

/** A CRI nanosecond timestamp (decimal string) as RFC 3339 with milliseconds; undefined for 0. */
export function nanosToIso(nanos: string | number | undefined): string | undefined {
  if (nanos === undefined || nanos === "" || nanos === "0" || nanos === 0) return undefined;
  const ms = Number(BigInt(nanos) / 1_000_000n);
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** Exit code for a container the runtime could not start, in the shell's convention (127 not found, 126 not executable). */
export function startErrorExitCode(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied|exec format error/i.test(message)) return 126;
  return 128;
}

export interface OutcomeContext {
  /** The runtime stopped the container for its timeout. */
  timedOut: boolean;
  timeoutSeconds: number;
  logTruncated: boolean;
  /** Used when the status has no finish time. */
  now?: Date;
}

/** The outcome of an exited container. */
export function resultFromStatus(status: ContainerStatus, context: OutcomeContext): ExitResult {
  const startedAt = nanosToIso(status.started_at);
  let finishedAt = nanosToIso(status.finished_at) ?? (context.now ?? new Date()).toISOString();
  // containerd records the start once the task runs, which can be after a quick process already exited.
  if (startedAt && finishedAt < startedAt) finishedAt = startedAt;
  const base = {
    ...(startedAt ? { startedAt } : {}),
    finishedAt,
    ...(context.logTruncated ? { logTruncated: true } : {}),
  };
  if (context.timedOut) {
    return {
      ...base,
      exitCode: TIMEOUT_EXIT_CODE,
      reason: "TaskTimeout",
      message: `task exceeded its timeout of ${context.timeoutSeconds}s and was killed`,
    };
  }
  if (status.reason === "OOMKilled") {
    return { ...base, exitCode: status.exit_code, reason: "OOMKilled", message: "the container exceeded its memory limit and was killed" };
  }
  if (status.reason === "StartError" || !startedAt) {
    let message = status.message || status.reason || "the container could not be started";
    // containerd's StartContainer cancelled (its caller went away) after runc may already have started the
    // command: containerd then kills it and records a StartError that never started. Whether it ran is unknown.
    if (/context canceled/i.test(message)) {
      message += " (the start was cut off: the task's command may have run and been killed; it is not started again)";
    }
    return { ...base, exitCode: startErrorExitCode(message), reason: "StartError", message };
  }
  return {
    ...base,
    exitCode: status.exit_code,
    reason: reasonForExitCode(status.exit_code),
    ...(status.message ? { message: status.message } : {}),
  };
}
