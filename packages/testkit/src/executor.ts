import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ExecutorClient } from "@org/task-core";
import { findPackageBin } from "./package-bin.js";

/**
 * Where the `task-executor` binary is: `$TASK_EXECUTOR_BIN` when set, else the `bin` of the package
 * `@org/executor` as the package running the tests resolves it. The executor must be built.
 */
export function findExecutorBin(from = process.cwd()): string | undefined {
  return findPackageBin("@org/executor", "task-executor", "TASK_EXECUTOR_BIN", from);
}

/** The executor binary {@link findExecutorBin} finds for this test run ("" when none: startExecutor then says so). */
export const EXECUTOR_BIN = findExecutorBin() ?? "";

export interface StartExecutorOptions {
  /** Extra flags; `--listen-addr` and `--data-dir` are set unless given here. */
  args?: string[];
  env?: Record<string, string>;
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string;
  /** Bearer token for the returned client. */
  token?: string;
  /** How long to wait for the "listening" line (default 20 s). */
  startTimeoutMs?: number;
  /** The executor binary (default {@link EXECUTOR_BIN}). */
  bin?: string;
  /** A command the executor runs under, e.g. `["ip", "netns", "exec", "NS"]` (it must exec its arguments). */
  wrap?: string[];
}

/** A running executor process started by a test. */
export interface ExecutorProcess {
  url: string;
  dataDir: string;
  client: ExecutorClient;
  child: ChildProcess;
  /** Every log line the executor printed so far (stdout and stderr). */
  output: string[];
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit (crash simulation). */
  kill(): Promise<void>;
  /** Start another executor on the same data dir with the same options (after kill or stop). */
  restart(extra?: Partial<StartExecutorOptions>): Promise<ExecutorProcess>;
}

export async function tempDir(prefix = "task-executor-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Starts the real executor as a child process on a free loopback port and waits until it listens. */
export async function startExecutor(options: StartExecutorOptions = {}): Promise<ExecutorProcess> {
  const dataDir = options.dataDir ?? (await tempDir());
  const args = [...(options.args ?? [])];
  if (!args.some((arg) => arg.startsWith("--listen-addr"))) args.push("--listen-addr=127.0.0.1:0");
  if (!args.some((arg) => arg.startsWith("--data-dir"))) args.push(`--data-dir=${dataDir}`);
  const bin = options.bin ?? EXECUTOR_BIN;
  if (!bin) {
    throw new Error("cannot find the task-executor binary: set TASK_EXECUTOR_BIN, or run the tests from a package that depends on @org/executor");
  }
  const [command, ...commandArgs] = [...(options.wrap ?? []), process.execPath, bin, ...args];
  const child = spawn(command!, commandArgs, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`executor did not start within ${options.startTimeoutMs ?? 20000} ms:\n${output.join("\n")}`)), options.startTimeoutMs ?? 20_000);
    const onLine = (line: string) => {
      output.push(line);
      const match = /"message":"listening"/.test(line) ? /"address":"([^"]+)"/.exec(line) : null;
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`executor exited with code ${code} before listening:\n${output.join("\n")}`));
    });
  });
  const scheme = args.some((arg) => arg.startsWith("--tls-cert-file")) ? "https" : "http";
  const url = `${scheme}://${address}`;
  const client = new ExecutorClient({ baseUrl: url, ...(options.token ? { token: options.token } : {}) });
  const executor: ExecutorProcess = {
    url,
    dataDir,
    client,
    child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
    },
    restart(extra = {}) {
      return startExecutor({ ...options, ...extra, dataDir });
    },
  };
  return executor;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
