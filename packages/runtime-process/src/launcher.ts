import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "@org/task-core";

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
  | { kind: "started"; keeperPid: number; pid: number }
  | { kind: "superseded" }
  | { kind: "failed"; message: string };

/** Encodes fields as netstrings (`len:bytes,`), the framing the launcher reads. */
export function encodeRequest(fields: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = Buffer.from(field, "utf8");
    parts.push(Buffer.from(`${bytes.length}:`), bytes, Buffer.from(","));
  }
  return Buffer.concat(parts);
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
  private readonly pendingStarts = new Map<string, (reply: StartReply) => void>();
  private closed = false;

  constructor(
    private readonly shimPath: string,
    private readonly onExited: (runId: string) => void,
    private readonly logger: Logger,
  ) {}

  /** Sends a start request; resolves when the keeper reports STARTED, SUPERSEDED or FAILED. */
  async start(request: StartRequest): Promise<StartReply> {
    let child = await this.running();
    if (child.exitCode !== null || child.signalCode !== null) {
      // It died after it was ready and before its exit was handled: start a new one.
      this.ready = undefined;
      child = await this.running();
    }
    return new Promise<StartReply>((resolve) => {
      this.pendingStarts.set(request.runId, resolve);
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
      child.stdin!.on("error", () => undefined);
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
    switch (kind) {
      case "STARTED":
        this.settleStart(runId, { kind: "started", keeperPid: Number(rest[0]), pid: Number(rest[1]) });
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

  private settleStart(runId: string, reply: StartReply): void {
    const resolve = this.pendingStarts.get(runId);
    if (!resolve) return;
    this.pendingStarts.delete(runId);
    resolve(reply);
  }

  private failPendingStarts(message: string): void {
    for (const [runId, resolve] of this.pendingStarts) {
      this.pendingStarts.delete(runId);
      resolve({ kind: "failed", message });
    }
  }
}
