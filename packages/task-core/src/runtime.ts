import type { TaskSpec } from "./spec.js";
import { LOST_EXIT_CODE } from "./status.js";

/**
 * The contract every runtime (process, sidecar, CRI) implements, in the style of Nomad's task drivers.
 * The task manager drives tasks only through it and never knows which runtime it talks to.
 */
export interface TaskRuntime {
  /** Short name, also stored in every handle this runtime makes (`process`, `sidecar`, `container`). */
  readonly name: string;

  /**
   * Starts the task. Resolves once it runs (or has already failed to start); never waits for the end.
   * `options.signal` asks to give the start up (the task was stopped or deleted while starting): a runtime that
   * can, makes sure nothing of the task runs, now or later, and rejects with {@link TaskStartCancelledError}; one
   * that cannot (or that finds the task already running) resolves as usual, and the caller then stops the task.
   */
  start(task: RuntimeTask, options?: StartOptions): Promise<RuntimeHandle>;

  /** What the runtime sees of the task right now. */
  inspect(task: RuntimeTask, handle: RuntimeHandle): Promise<RuntimeObservation>;

  /** Resolves with the outcome once the task has ended. Safe to call again after a restart (after recover). */
  wait(task: RuntimeTask, handle: RuntimeHandle): Promise<ExitResult>;

  /** Asks the task to stop: SIGTERM (or the runtime's equivalent), then a forced kill after `graceMs`. */
  stop(task: RuntimeTask, handle: RuntimeHandle, graceMs: number): Promise<void>;

  /** Frees what the runtime holds for the task (cgroups, sandboxes). Files in the task dir are the store's. */
  destroy(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<void>;

  /**
   * Re-attaches to a task after an executor restart. `handle` is the persisted handle, or undefined when the
   * executor stopped between asking for the start and persisting the handle. Returns the handle to keep using,
   * or undefined when the task never started (the manager then starts it again).
   */
  recover(task: RuntimeTask, handle: RuntimeHandle | undefined): Promise<RuntimeHandle | undefined>;

  /** The files holding the task's output, in CRI log format (`<time> <stream> <P|F> <text>`). */
  logFiles(task: RuntimeTask): LogFile[];

  /** Releases runtime-wide resources (connections, helper processes) at executor shutdown. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Aborted when the start is to be given up. */
  signal?: AbortSignal;
}

/** What a runtime needs to know about a task. */
export interface RuntimeTask {
  name: string;
  spec: TaskSpec;
  /** The task's own directory under the data dir; the runtime keeps its files (logs, pid, exit) here. */
  dir: string;
}

/** Plain JSON that identifies a started task to its runtime; persisted with the task. */
export interface RuntimeHandle {
  runtime: string;
  [key: string]: unknown;
}

/** How a task ended, as the runtime observed it. */
export interface ExitResult {
  exitCode: number;
  /** Set when a signal ended the process (`exitCode` is then 128 + signal). */
  signal?: number;
  /** A terminated reason (see TerminatedReasons). */
  reason: string;
  message?: string;
  /** Absent when the task never started. */
  startedAt?: string;
  finishedAt: string;
  /** True when the task's output exceeded the log cap and its oldest part was dropped. */
  logTruncated?: boolean;
}

/**
 * The outcome of a task whose real outcome is gone (its keeper or container vanished without one, or its record
 * cannot be read): exit code 255 with the reason in `message`. `reason` is `Lost`, or a runtime's more precise
 * name for the same thing (`ContainerMissing`).
 */
export function lostOutcome(message: string, options: { startedAt?: string | undefined; reason?: "Lost" | "ContainerMissing"; now?: Date } = {}): ExitResult {
  return {
    exitCode: LOST_EXIT_CODE,
    reason: options.reason ?? "Lost",
    message,
    ...(options.startedAt ? { startedAt: options.startedAt } : {}),
    finishedAt: (options.now ?? new Date()).toISOString(),
  };
}

export type RuntimeObservation =
  | { phase: "running"; startedAt: string }
  | { phase: "exited"; result: ExitResult }
  /** The runtime has no trace of the task (its process or container vanished without an outcome). */
  | { phase: "missing"; message: string };

/** One log file of a task, and the file it is rotated into when it reaches its cap. */
export interface LogFile {
  path: string;
  rotatedPath: string;
  /** Which stream the file holds; `combined` files carry the stream on each line. */
  stream: "stdout" | "stderr" | "combined";
}

/**
 * Thrown by `start` when the task cannot be started at all. The manager ends the task `terminated` with
 * this reason and exit code and no `startedAt`.
 */
export class TaskStartError extends Error {
  readonly reason: string;
  readonly exitCode: number;

  constructor(reason: string, message: string, exitCode = 1) {
    super(message);
    this.name = "TaskStartError";
    this.reason = reason;
    this.exitCode = exitCode;
  }
}

/**
 * Thrown by `start` when the start was given up on request ({@link StartOptions.signal}) and nothing of the task
 * runs. The manager ends the task `Cancelled` without `startedAt`.
 */
export class TaskStartCancelledError extends Error {
  constructor(message = "the start was given up on request; nothing was run") {
    super(message);
    this.name = "TaskStartCancelledError";
  }
}
