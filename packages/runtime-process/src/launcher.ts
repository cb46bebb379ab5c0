import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "@org/task-core";
import { signalQuietly } from "./proc.js";

/** What the launcher needs to start one task (see docs/task-shim.md, START). */
export interface StartRequest {
  runId: string;
  taskDir: string;
  workingDir: string;
  timeoutMs: number;
  graceMs: number;
  maxLogBytes: number;
  argv: string[];
  env: string[];
  cgroupProcs: string[];
}

/** How a start request ended on the shim's side. */
export type StartReply =
  /**
   * The keeper owns the task directory (its pid file is in place) and forked the task. `keeperStartTicks` and
   * `startedAt` are what the executor would otherwise read from /proc and the pid file (undefined when the keeper
   * could not tell).
   */
  | { kind: "started"; keeperPid: number; pid: number; keeperStartTicks: string | undefined; startedAt: string | undefined }
  | { kind: "superseded" }
  | { kind: "failed"; message: string }
  /** No answer within the bound; the keeper, if one was forked, has been SIGKILLed. */
  | { kind: "timeout"; keeperPid: number | undefined }
  /** Given up on request before an answer; the keeper, if one was forked, has been SIGKILLed. */
  | { kind: "cancelled"; keeperPid: number | undefined };

/** How long a start that timed out is remembered, so a keeper reporting for it late is killed. */
const ABANDONED_MEMORY_MS = 10 * 60_000;

interface PendingStart {
  resolve: (reply: StartReply) => void;
  /** From the launcher's FORKED event. */
  keeperPid: number | undefined;
}

/** Encodes fields as netstrings (`len:bytes,`), the framing the launcher reads. */
export function encodeRequest(fields: readonly string[]): Buffer {
  // One string and one buffer per request: a start carries the whole environment, and three small buffers per
  // field were a measurable share of a start's CPU.
  let text = "";
  for (const field of fields) text += `${Buffer.byteLength(field, "utf8")}:${field},`;
  return Buffer.from(text, "utf8");
}

export function startRequestFields(request: StartRequest): string[] {
  return [
    "START",
    request.runId,
    request.taskDir,
    request.workingDir,
    String(request.timeoutMs),
    String(request.graceMs),
    String(request.maxLogBytes),
    String(request.argv.length),
    ...request.argv,
    String(request.env.length),
    ...request.env,
    String(request.cgroupProcs.length),
    ...request.cgroupProcs,
  ];
}

/**
 * The long-lived `task-shim launcher` child: start requests go to its stdin, events come back on its stdout
 * (shared with the keepers it forked). Restarted on demand if it dies; keepers of an earlier launcher keep
 * reporting on the old pipe, which stays read until it closes.
 */
export class Launcher {
  private child: ChildProcess | undefined;
  private ready: Promise<ChildProcess> | undefined;
  private readonly pendingStarts = new Map<string, PendingStart>();
  /** Starts given up on: a keeper that reports for one of them later is killed at once. */
  private readonly abandoned = new Set<string>();
  private closed = false;

  constructor(
    private readonly shimPath: string,
    private readonly onExited: (runId: string) => void,
    private readonly logger: Logger,
  ) {}

  /**
   * Sends a start request; resolves when the keeper reports STARTED, SUPERSEDED or FAILED, with `timeout` after
   * `timeoutMs`, or with `cancelled` once `signal` aborts first. A start given up (timeout or cancel) has its
   * keeper (known from FORKED) SIGKILLed, and a keeper that reports for it later is killed too.
   */
  async start(request: StartRequest, timeoutMs: number, signal?: AbortSignal): Promise<StartReply> {
    let child = await this.running();
    if (child.exitCode !== null || child.signalCode !== null) {
      // It died after it was ready and before its exit was handled: start a new one.
      this.ready = undefined;
      child = await this.running();
    }
    if (signal?.aborted) return { kind: "cancelled", keeperPid: undefined };
    return new Promise<StartReply>((resolve) => {
      const giveUp = (kind: "timeout" | "cancelled") => {
        const pending = this.pendingStarts.get(request.runId);
        if (!pending) return;
        this.pendingStarts.delete(request.runId);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.abandoned.add(request.runId);
        // A late report, if any, comes once the stuck launcher or keeper moves on; ten minutes is ample for that.
        setTimeout(() => this.abandoned.delete(request.runId), ABANDONED_MEMORY_MS).unref();
        if (pending.keeperPid !== undefined) signalQuietly(pending.keeperPid, "SIGKILL");
        resolve({ kind, keeperPid: pending.keeperPid });
      };
      const onAbort = () => giveUp("cancelled");
      const timer = setTimeout(() => giveUp("timeout"), timeoutMs);
      timer.unref();
      this.pendingStarts.set(request.runId, {
        resolve: (reply) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(reply);
        },
        keeperPid: undefined,
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      child.stdin!.write(encodeRequest(startRequestFields(request)));
    });
  }

  /** Ends the launcher by closing its stdin; running keepers are not affected. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.stdin!.end();
    });
  }

  private running(): Promise<ChildProcess> {
    if (this.closed) return Promise.reject(new Error("the process runtime is closed"));
    this.ready ??= this.spawnLauncher();
    return this.ready;
  }

  private spawnLauncher(): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.shimPath, ["launcher"], { stdio: ["pipe", "pipe", "inherit"] });
      this.child = child;
      let isReady = false;
      child.once("error", (error) => {
        this.ready = undefined;
        reject(new Error(`cannot start the task shim ${this.shimPath}: ${error.message}`));
      });
      // EPIPE once the launcher died: its exit handler fails the pending starts and says so.
      child.stdin!.on("error", (error) => this.logger.debug("task shim launcher stdin error", { error: String(error) }));
      child.once("exit", (code, signal) => {
        this.ready = undefined;
        if (!this.closed) this.logger.warn("task shim launcher exited; it is restarted on the next start", { code, signal });
        this.failPendingStarts("the task shim launcher exited before the task started");
      });
      const lines = createInterface({ input: child.stdout!, crlfDelay: Infinity });
      lines.on("line", (line) => {
        if (!isReady && line.startsWith("READY")) {
          isReady = true;
          resolve(child);
          return;
        }
        this.handleEvent(line);
      });
    });
  }

  private handleEvent(line: string): void {
    const [kind, runId = "", ...rest] = line.split(" ");
    if (this.abandoned.has(runId)) {
      this.handleAbandoned(kind, runId, rest);
      return;
    }
    switch (kind) {
      case "FORKED": {
        const pending = this.pendingStarts.get(runId);
        if (pending) pending.keeperPid = Number(rest[0]);
        break;
      }
      case "STARTED":
        this.settleStart(runId, {
          kind: "started",
          keeperPid: Number(rest[0]),
          pid: Number(rest[1]),
          keeperStartTicks: /^\d+$/.test(rest[2] ?? "") ? rest[2] : undefined,
          startedAt: rest[3] || undefined,
        });
        break;
      case "SUPERSEDED":
        this.settleStart(runId, { kind: "superseded" });
        break;
      case "FAILED":
        this.settleStart(runId, { kind: "failed", message: rest.join(" ") });
        break;
      case "EXITED":
        this.onExited(runId);
        break;
      default:
        this.logger.debug("unknown task shim event", { line });
    }
  }

  /** A keeper of a start that timed out reports after all: it must not run the task. */
  private handleAbandoned(kind: string | undefined, runId: string, rest: string[]): void {
    if (kind === "FORKED" || kind === "STARTED") {
      const keeperPid = Number(rest[0]);
      if (Number.isSafeInteger(keeperPid) && keeperPid > 1) signalQuietly(keeperPid, "SIGKILL");
      const taskPid = Number(rest[1]);
      if (kind === "STARTED" && Number.isSafeInteger(taskPid) && taskPid > 1) signalQuietly(-taskPid, "SIGKILL");
      this.logger.warn("a keeper reported after its start had timed out; it was killed", { runId, event: kind });
    }
    if (kind !== "FORKED") this.abandoned.delete(runId);
  }

  private settleStart(runId: string, reply: StartReply): void {
    const pending = this.pendingStarts.get(runId);
    if (!pending) return;
    this.pendingStarts.delete(runId);
    pending.resolve(reply);
  }

  private failPendingStarts(message: string): void {
    for (const [runId, pending] of this.pendingStarts) {
      this.pendingStarts.delete(runId);
      pending.resolve({ kind: "failed", message });
    }
  }
}
