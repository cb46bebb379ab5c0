import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { findPackageBin } from "./package-bin.js";

/** Where the `task-controller` binary is: `$TASK_CONTROLLER_BIN`, else through the package `@org/controller`. */
export function findControllerBin(from = process.cwd()): string | undefined {
  return findPackageBin("@org/controller", "task-controller", "TASK_CONTROLLER_BIN", from);
}

export interface StartControllerOptions {
  kubeconfigPath: string;
  /** Extra flags; by default leader election is off, /healthz on a free loopback port, metrics off. */
  args?: string[];
  /** Resolve once it leads and its informers synced (default), or as soon as it serves /healthz. */
  waitFor?: "synced" | "started";
  /** How long to wait for that (default 60 s: a loaded machine is slow to start processes). */
  startTimeoutMs?: number;
  /** Append every log line to this file too (for debugging a test). */
  logFile?: string;
}

/** A running controller process started by a test. */
export interface ControllerProcess {
  child: ChildProcess;
  /** Every log line so far. */
  output: string[];
  /** http://IP:PORT of /healthz and /readyz, when the health server is on. */
  healthUrl: string | undefined;
  /** Resolves with the first log line matching `pattern` (also one already printed). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit (crash). */
  kill(): Promise<void>;
}

/** Starts the real, built controller as a child process against a test API server. */
export async function startController(options: StartControllerOptions): Promise<ControllerProcess> {
  const bin = findControllerBin();
  if (!bin) throw new Error("task-controller not found: declare @org/controller as a dependency of the test's package (or set TASK_CONTROLLER_BIN) and build it");
  const defaults = ["--health-addr=127.0.0.1:0", "--metrics-addr=off", "--leader-elect=false"];
  const args = options.args ?? [];
  const flagName = (arg: string) => arg.split("=")[0];
  const chosen = new Set(args.map(flagName));
  const child = spawn(process.execPath, [bin, `--kubeconfig=${options.kubeconfigPath}`, ...defaults.filter((arg) => !chosen.has(flagName(arg))), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onLine = (line: string) => {
    output.push(line);
    if (options.logFile) appendFileSync(options.logFile, `${line}\n`);
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
        reject(new Error(`the controller exited:\n${output.slice(-30).join("\n")}`));
      });
    });
  };
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const healthOn = !args.some((arg) => /^--health-addr=(off|0)$/.test(arg));
  const listening = healthOn ? await waitForLog(/"server":"health"/, startTimeoutMs) : undefined;
  const address = listening ? /"address":"([^"]+)"/.exec(listening)?.[1] : undefined;
  if ((options.waitFor ?? "synced") === "synced") await waitForLog(/informers synced/, startTimeoutMs);
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output,
    healthUrl: address ? `http://${address}` : undefined,
    waitForLog,
    async stop() {
      if (ended()) return;
      child.kill("SIGTERM");
      await exited;
    },
    async kill() {
      if (ended()) return;
      child.kill("SIGKILL");
      await exited;
    },
  };
}
