import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { kubeTestEnvFromEnv, type KubeTestEnv } from "@org/testkit";
import { taskctl, type Result, type RunOptions } from "../helpers.js";

/** The built controller's entry point (apps/controller must be built). */
export const CONTROLLER_BIN = fileURLToPath(new URL("../../../controller/bin/task-controller.js", import.meta.url));

export const env = (): KubeTestEnv => kubeTestEnvFromEnv();

export interface Controller {
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Starts the real controller against the test API server and waits until its informers synced. */
export async function startController(): Promise<Controller> {
  const child = spawn(process.execPath, [CONTROLLER_BIN, `--kubeconfig=${env().kubeconfigPath}`, "--health-addr=off", "--metrics-addr=off", "--leader-elect=false"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the controller did not sync within 60 s:\n${output.slice(-20).join("\n")}`)), 60_000);
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes("informers synced")) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: child.stdout! }).on("line", onLine);
    createInterface({ input: child.stderr! }).on("line", onLine);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`the controller exited:\n${output.slice(-20).join("\n")}`));
    });
  });
  return {
    child,
    output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** taskctl in cluster mode, with the test environment's kubeconfig and a namespace. */
export function kubectlTask(namespace: string, args: string[], options: RunOptions = {}): Promise<Result> {
  return taskctl(["--kubeconfig", env().kubeconfigPath, "-n", namespace, ...args], { timeoutMs: 120_000, ...options });
}
