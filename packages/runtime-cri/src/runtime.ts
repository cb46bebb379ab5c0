/**
 * The container runtime: every task is one pod sandbox (node network, pod-shared PID namespace) holding one
 * container, driven through a CRI runtime such as containerd. See README.md for the design.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import {
  silentLogger,
  TaskStartCancelledError,
  TaskStartError,
  type ContainerSpec,
  type ExitResult,
  type LogFile,
  type Logger,
  type RuntimeHandle,
  type RuntimeObservation,
  type RuntimeTask,
  type StartOptions,
  type TaskRuntime,
} from "@org/task-core";
import { CriClient, grpcMessage, isNotFound } from "./cri-client.js";
import { clearAttempt, Files, readExit, readStartIntent, writeExit, writeStartIntent } from "./files.js";
import type { ContainerConfig, ContainerStatus } from "./cri-client.js";
import { containerConfig, nanosToIso, sandboxConfig, startErrorExitCode, UnknownVolumeError } from "./mapping.js";
import { Monitor, missingMessage, type CriHandle } from "./monitor.js";
import { collectGarbage, listSandboxes, removeSandbox } from "./sandboxes.js";
import { Starter } from "./starter.js";

export interface CriRuntimeOptions {
  /** The CRI runtime's unix socket, e.g. /run/containerd/containerd.sock. */
  socketPath: string;
  /** Stable id of this executor (survives restarts); labels everything the runtime creates. */
  executorId: string;
  /** Volumes tasks may mount: name → host directory. */
  volumes: Record<string, string>;
  /** Grace between the stop signal and the kill, for timeouts (stop() takes its own). */
  graceMs: number;
  /** Log cap per task (container.log + container.log.1 ≈ this); 0 = none. */
  maxLogBytes: number;
  logger?: Logger;
  /** How often running containers are polled (default 250 ms). */
  pollIntervalMs?: number;
  /** Deadline of one image pull (default 5 min). */
  pullTimeoutMs?: number;
}

export interface CriRuntime extends TaskRuntime {
  /** Removes this executor's sandboxes whose task is not live; returns the removed sandbox ids. */
  collectGarbage(liveTaskNames: Set<string>): Promise<string[]>;
}

export const CONTAINER_RUNTIME_NAME = "container";

/**
 * Creates the container runtime. `start` throws TaskStartError for tasks that cannot start: `ErrImagePull`
 * (exit code 1) when the image is missing and cannot be pulled, `StartError` when the sandbox or container cannot
 * be created or started (exit code 127/126 for a missing/non-executable command, else 128).
 */
export function createCriRuntime(options: CriRuntimeOptions): CriRuntime {
  return new ContainerRuntime(options);
}

class ContainerRuntime implements CriRuntime {
  readonly name = CONTAINER_RUNTIME_NAME;
  private readonly client: CriClient;
  private readonly monitor: Monitor;
  private readonly logger: Logger;
  private readonly pulls = new Map<string, Promise<void>>();
  /** Deadline of one StartContainer call (and of waiting for a start in progress after a restart). */
  private readonly startTimeoutMs = 60_000;
  /** Sends StartContainer from a detached process that outlives the executor (see start-helper.ts). */
  private readonly starter: Starter;

  constructor(private readonly options: CriRuntimeOptions) {
    this.logger = options.logger ?? silentLogger;
    this.client = new CriClient(options.socketPath, options.pullTimeoutMs ? { pullTimeoutMs: options.pullTimeoutMs } : {});
    this.monitor = new Monitor(this.client, {
      executorId: options.executorId,
      graceMs: options.graceMs,
      maxLogBytes: options.maxLogBytes,
      pollIntervalMs: options.pollIntervalMs ?? 250,
      logger: this.logger,
    });
    this.starter = new Starter(options.socketPath, this.startTimeoutMs);
  }

  /**
   * `options.signal` gives the start up while nothing has been sent that could run the command (image pull,
   * sandbox, container creation): what was created is removed and TaskStartCancelledError thrown. Once the start
   * intent is written the start goes through and resolves; the manager then stops the task at once.
   */
  async start(task: RuntimeTask, options: StartOptions = {}): Promise<RuntimeHandle> {
    const { signal } = options;
    const spec = task.spec.container;
    if (!spec) throw new TaskStartError("StartError", `task ${task.name} has no container spec`, 1);
    let config: ContainerConfig;
    try {
      config = containerConfig(task, this.options.executorId, this.options.volumes);
    } catch (error) {
      if (error instanceof UnknownVolumeError) throw new TaskStartError("StartError", error.message, 1);
      throw error;
    }
    const attempted = await readStartIntent(task.dir);
    if (attempted) {
      // Never reached through the manager (a recovery with an intent returns the task's container); a guard.
      throw new TaskStartError("StartError", `a start of task ${task.name} was already attempted (container ${attempted.containerId}); it is not started again`, 128);
    }
    if (signal?.aborted) throw new TaskStartCancelledError();
    await clearAttempt(task.dir);
    await untilAborted(this.ensureImage(spec), signal);
    if (signal?.aborted) throw new TaskStartCancelledError("the start was given up on request while its image was looked up or pulled; nothing was run");

    const podConfig = sandboxConfig(task, this.options.executorId, randomUUID());
    let sandboxId: string;
    try {
      sandboxId = await this.client.runPodSandbox(podConfig);
    } catch (error) {
      throw new TaskStartError("StartError", `cannot run the pod sandbox: ${grpcMessage(error)}`, 128);
    }
    if (signal?.aborted) {
      await this.removeQuietly(task, sandboxId);
      throw new TaskStartCancelledError("the start was given up on request before its container was created; nothing was run");
    }
    let containerId: string;
    try {
      containerId = await this.client.createContainer(sandboxId, config, podConfig);
    } catch (error) {
      await this.removeQuietly(task, sandboxId);
      const message = grpcMessage(error);
      throw new TaskStartError("StartError", `cannot create the container of image ${spec.image}: ${message}`, startErrorExitCode(message));
    }
    if (signal?.aborted) {
      await this.removeQuietly(task, sandboxId);
      throw new TaskStartCancelledError("the start was given up on request before its container was started; nothing was run");
    }
    // From here on the task is this container's: a restart finds the intent and never creates another one.
    await writeStartIntent(task.dir, { sandboxId, containerId, image: spec.image });
    const answer = await this.starter.start(containerId);
    const status = await this.client.containerStatus(containerId).catch((error: unknown) => {
      this.logger.warn("cannot read the status of a container just started", { task: task.name, containerId, error: grpcMessage(error) });
      return undefined;
    });
    if (!answer.ok && !(status && hasStarted(status))) {
      // The command did not run (the runtime refused the start, or the container is still only created). The
      // outcome is recorded before the sandbox goes, so that a restart before the task's record is written
      // reports this failure instead of starting the task again.
      const message = answer.code === undefined && status?.message ? status.message : (answer.message ?? "unknown error");
      const result = {
        exitCode: startErrorExitCode(message),
        reason: "StartError",
        message: `cannot start the container of image ${spec.image}: ${message}`,
        finishedAt: new Date().toISOString(),
      };
      await writeExit(task.dir, result);
      await this.removeQuietly(task, sandboxId);
      throw new TaskStartError("StartError", result.message, result.exitCode);
    }
    const handle: CriHandle = {
      runtime: this.name,
      sandboxId,
      containerId,
      startedAt: nanosToIso(status?.started_at) ?? new Date().toISOString(),
      image: spec.image,
    };
    this.monitor.watch(task, handle);
    this.logger.debug("started a container task", { task: task.name, sandboxId, containerId });
    return handle;
  }

  async inspect(task: RuntimeTask, handle: RuntimeHandle): Promise<RuntimeObservation> {
    const criHandle = asCriHandle(handle);
    const saved = await readExit(task.dir, this.logger);
    if (saved) return { phase: "exited", result: saved };
    let status;
    try {
      status = await this.client.containerStatus(criHandle.containerId);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      const late = await readExit(task.dir, this.logger);
      return late ? { phase: "exited", result: late } : { phase: "missing", message: missingMessage(task, criHandle) };
    }
    const watch = this.monitor.watch(task, criHandle);
    if (status.state === "CONTAINER_EXITED") {
      const result = await this.monitor.settle(watch);
      if (result) return { phase: "exited", result };
    }
    const startedAt = criHandle.startedAt ?? nanosToIso(status.started_at) ?? new Date().toISOString();
    return { phase: "running", startedAt };
  }

  async wait(task: RuntimeTask, handle: RuntimeHandle): Promise<ExitResult> {
    const saved = await readExit(task.dir, this.logger);
    if (saved) return saved;
    return this.monitor.watch(task, asCriHandle(handle)).done;
  }

  async stop(task: RuntimeTask, handle: RuntimeHandle, graceMs: number): Promise<void> {
    const criHandle = asCriHandle(handle);
    if (await readExit(task.dir, this.logger)) return;
    try {
      await this.client.stopContainer(criHandle.containerId, Math.max(0, Math.ceil(graceMs / 1000)));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    // Collect the status and remove container and sandbox now rather than at the next poll.
    await this.monitor.settle(this.monitor.watch(task, criHandle)).catch((error: unknown) => {
      this.logger.warn("cannot collect the status of a stopped container", { task: task.name, error: grpcMessage(error) });
    });
  }

  async destroy(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<void> {
    if (!handle) {
      for (const sandbox of await listSandboxes(this.client, this.options.executorId, task.name)) {
        await this.removeQuietly(task, sandbox.id);
      }
      return;
    }
    const criHandle = asCriHandle(handle);
    if (!(await readExit(task.dir, this.logger))) {
      // Still running: end it and record its outcome before the sandbox goes.
      await this.stop(task, criHandle, 0).catch((error: unknown) => {
        this.logger.warn("cannot stop the container of a task being destroyed; its sandbox is removed anyway", { task: task.name, error: grpcMessage(error) });
      });
    }
    this.monitor.forget(criHandle.containerId);
    await this.removeQuietly(task, criHandle.sandboxId);
  }

  /**
   * A task with a handle, or with a start intent (the executor died between sending StartContainer and
   * persisting the handle), is that container's for good: it is adopted, started if it is still only created
   * (a CRI container starts at most once, so asking again can never run the command twice), or its failed start
   * is reported. Only a task without either never had StartContainer sent: whatever it left is removed and
   * undefined asks for a fresh start.
   */
  async recover(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<RuntimeHandle | undefined> {
    let criHandle: CriHandle;
    if (handle) {
      criHandle = asCriHandle(handle);
    } else {
      const intent = await readStartIntent(task.dir);
      if (!intent) return this.removeUnstarted(task);
      criHandle = { runtime: this.name, sandboxId: intent.sandboxId, containerId: intent.containerId, ...(intent.image ? { image: intent.image } : {}) };
      // Sandboxes of earlier attempts cut off before their container was created.
      for (const sandbox of await listSandboxes(this.client, this.options.executorId, task.name)) {
        if (sandbox.id !== criHandle.sandboxId) await this.removeQuietly(task, sandbox.id);
      }
    }
    if (await readExit(task.dir, this.logger)) {
      // The outcome is recorded; finish a cleanup an earlier run may not have completed.
      await this.removeQuietly(task, criHandle.sandboxId);
      return criHandle;
    }
    let status;
    try {
      status = await this.client.containerStatus(criHandle.containerId);
    } catch (error) {
      if (!isNotFound(error)) throw error;
      this.logger.warn("the container of a task is gone; it will end ContainerMissing", { task: task.name, containerId: criHandle.containerId });
      return criHandle;
    }
    if (status.state === "CONTAINER_CREATED") {
      this.logger.info("the start of a container was cut off before it happened; starting that container", { task: task.name, containerId: criHandle.containerId });
      const answer = await this.starter.start(criHandle.containerId);
      status = await this.statusOnceStarted(criHandle.containerId);
      if (status.state === "CONTAINER_CREATED") {
        throw new Error(`container ${criHandle.containerId} was created but cannot be started: ${answer.message ?? "it stays created"}`);
      }
    }
    const startedAt = criHandle.startedAt ?? nanosToIso(status.started_at);
    const adopted: CriHandle = { ...criHandle, ...(startedAt ? { startedAt } : {}) };
    // A container whose start failed (exited, never started) is settled by the monitor as a StartError.
    this.monitor.watch(task, adopted);
    return adopted;
  }

  logFiles(task: RuntimeTask): LogFile[] {
    return [{ path: join(task.dir, Files.log), rotatedPath: join(task.dir, Files.rotatedLog), stream: "combined" }];
  }

  collectGarbage(liveTaskNames: Set<string>): Promise<string[]> {
    return collectGarbage(this.client, this.options.executorId, liveTaskNames, this.logger);
  }

  async close(): Promise<void> {
    this.monitor.close();
    this.client.close();
    // The helper finishes the starts it has in flight, then exits.
    this.starter.close();
  }

  /**
   * No start intent: StartContainer was never sent for this task, so its sandboxes (a RunPodSandbox or
   * CreateContainer cut off by the executor's death) hold nothing that ran; they are removed and undefined asks
   * for a fresh start. A container that is not merely created (only an executor of an earlier version, which
   * wrote no intent, can have left one) might have run: it is adopted, never started again.
   */
  private async removeUnstarted(task: RuntimeTask): Promise<CriHandle | undefined> {
    const sandboxes = await listSandboxes(this.client, this.options.executorId, task.name);
    sandboxes.sort((a, b) => (BigInt(b.created_at) > BigInt(a.created_at) ? 1 : -1));
    let adopted: CriHandle | undefined;
    for (const sandbox of sandboxes) {
      if (!adopted) {
        const containers = await this.client.listContainers({ podSandboxId: sandbox.id });
        const started = containers.find((container) => container.state !== "CONTAINER_CREATED" && container.state !== "CONTAINER_UNKNOWN");
        if (started) {
          const status = await this.client.containerStatus(started.id);
          const startedAt = nanosToIso(status.started_at);
          adopted = { runtime: this.name, sandboxId: sandbox.id, containerId: started.id, ...(startedAt ? { startedAt } : {}) };
          continue;
        }
      }
      await this.removeQuietly(task, sandbox.id);
    }
    if (adopted) this.monitor.watch(task, adopted);
    return adopted;
  }

  /** The container's status once a start of it is no longer in progress (bounded: then it is returned as is). */
  private async statusOnceStarted(containerId: string): Promise<ContainerStatus> {
    const deadline = Date.now() + this.startTimeoutMs;
    for (;;) {
      const status = await this.client.containerStatus(containerId);
      if (status.state !== "CONTAINER_CREATED" || Date.now() > deadline) return status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async ensureImage(spec: ContainerSpec): Promise<void> {
    const { image } = spec;
    const policy = spec.imagePullPolicy ?? "IfNotPresent";
    if (policy !== "Always") {
      let present: string | undefined;
      try {
        present = await this.client.imageStatus(image);
      } catch (error) {
        throw new TaskStartError("ErrImagePull", `cannot look up image ${image}: ${grpcMessage(error)}`, 1);
      }
      if (present) return;
      if (policy === "Never") {
        throw new TaskStartError("ErrImagePull", `image ${image} is not present on the node and imagePullPolicy is Never`, 1);
      }
    }
    // Concurrent starts of the same image share one pull.
    let pull = this.pulls.get(image);
    if (!pull) {
      pull = this.client.pullImage(image).then(() => undefined);
      this.pulls.set(image, pull);
      // The failure is reported to every start awaiting this pull (below); here the pull is only forgotten.
      pull.then(
        () => this.pulls.delete(image),
        () => this.pulls.delete(image),
      );
    }
    try {
      await pull;
    } catch (error) {
      throw new TaskStartError("ErrImagePull", `cannot pull image ${image}: ${grpcMessage(error)}`, 1);
    }
  }

  private async removeQuietly(task: RuntimeTask, sandboxId: string): Promise<void> {
    try {
      await removeSandbox(this.client, sandboxId);
    } catch (error) {
      this.logger.warn("cannot remove a sandbox", { task: task.name, sandboxId, error: grpcMessage(error) });
    }
  }
}

/** Resolves with `work`, or as soon as `signal` aborts (then `work` goes on unobserved: a shared image pull). */
async function untilAborted(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return work;
  if (signal.aborted) return;
  work.catch(() => undefined);
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([work, new Promise<void>((resolve) => signal.addEventListener("abort", (onAbort = () => resolve()), { once: true }))]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}

/** True once the container's command has been started (it runs, or ran: a start time). */
function hasStarted(status: ContainerStatus): boolean {
  return status.state === "CONTAINER_RUNNING" || nanosToIso(status.started_at) !== undefined;
}

function asCriHandle(handle: RuntimeHandle): CriHandle {
  if (typeof handle.sandboxId !== "string" || typeof handle.containerId !== "string") {
    throw new Error(`not a container runtime handle: ${JSON.stringify(handle)}`);
  }
  return handle as CriHandle;
}
