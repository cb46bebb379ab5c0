import { kubeTestEnvFromEnv, startController as startControllerProcess, type ControllerProcess, type KubeTestEnv } from "@org/testkit";
import { taskctl, type Result, type RunOptions } from "../helpers.js";

export const env = (): KubeTestEnv => kubeTestEnvFromEnv();

export type Controller = ControllerProcess;

/** Starts the real controller against the test API server and waits until its informers synced. */
export function startController(): Promise<Controller> {
  return startControllerProcess({ kubeconfigPath: env().kubeconfigPath, args: ["--health-addr=off"] });
}

/** taskctl in cluster mode, with the test environment's kubeconfig and a namespace. */
export function kubectlTask(namespace: string, args: string[], options: RunOptions = {}): Promise<Result> {
  return taskctl(["--kubeconfig", env().kubeconfigPath, "-n", namespace, ...args], { timeoutMs: 120_000, ...options });
}
