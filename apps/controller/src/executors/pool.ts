import type * as k8s from "@kubernetes/client-node";
import { DEFAULT_EXECUTOR_PORT, EXECUTOR_PORT_ANNOTATION } from "@org/task-api";
import type { Logger, NewTask } from "@org/task-core";
import { ExecutorConnection } from "./connection.js";

export interface PoolOptions {
  token: () => string | undefined;
  logger: Logger;
  onTasksChanged: (podKey: string, taskNames: string[]) => void;
  onExecutorChanged: (podKey: string) => void;
  desiredSet: (podKey: string) => NewTask[] | undefined;
}

/** `IP:PORT` of an executor pod's API, or undefined while it has no IP. */
export function executorAddress(pod: k8s.V1Pod): string | undefined {
  const ip = pod.status?.podIP;
  if (!ip) return undefined;
  const annotated = Number(pod.metadata?.annotations?.[EXECUTOR_PORT_ANNOTATION]);
  const port = Number.isInteger(annotated) && annotated > 0 && annotated < 65536 ? annotated : DEFAULT_EXECUTOR_PORT;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** One {@link ExecutorConnection} per executor pod with an address; follows the pods as they change. */
export class ExecutorPool {
  private readonly connections = new Map<string, ExecutorConnection>();

  constructor(private readonly options: PoolOptions) {}

  get(podKey: string): ExecutorConnection | undefined {
    return this.connections.get(podKey);
  }

  all(): ExecutorConnection[] {
    return [...this.connections.values()];
  }

  /** Opens, replaces (new address) or closes the connection of a pod; `pod` undefined when it is gone. */
  syncPod(podKey: string, pod: k8s.V1Pod | undefined): void {
    const address = pod ? executorAddress(pod) : undefined;
    const current = this.connections.get(podKey);
    if (current && current.address === address) return;
    if (current) {
      current.close();
      this.connections.delete(podKey);
    }
    if (!address) return;
    const connection = new ExecutorConnection({
      key: podKey,
      address,
      token: this.options.token(),
      logger: this.options.logger,
      onTasksChanged: (names) => this.options.onTasksChanged(podKey, names),
      onExecutorChanged: () => this.options.onExecutorChanged(podKey),
      desiredSet: () => this.options.desiredSet(podKey),
    });
    this.connections.set(podKey, connection);
    connection.start();
    this.options.onExecutorChanged(podKey);
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}
