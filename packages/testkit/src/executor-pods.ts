import { PatchStrategy, setHeaderOptions, type V1Pod } from "@kubernetes/client-node";
import { startExecutor, type ExecutorProcess, type StartExecutorOptions } from "./executor.js";
import { coreApi, type KubeTarget } from "./kube-env.js";
import { createNetnsHost, type NetnsHost } from "./netns.js";

/** Label that marks a Pod as an executor pod. */
export const EXECUTOR_POD_LABEL = "tasks.org.dev/executor";
/** Annotation with the executor's HTTP port on the pod IP. */
export const EXECUTOR_PORT_ANNOTATION = "tasks.org.dev/executor-port";
/** The executor's port inside its network namespace unless told otherwise. */
export const DEFAULT_EXECUTOR_PORT = 5758;
/** Node name given to executor pods unless told otherwise (no Node object is needed for it). */
export const DEFAULT_NODE_NAME = "test-node-1";

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export interface ExecutorPodSpec {
  namespace: string;
  name: string;
  /** The executor's address: the pod IP. */
  podIP: string;
  port?: number;
  nodeName?: string;
  /** Reported as status.hostIP (default: podIP). */
  hostIP?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Report the pod Ready (default true); false leaves it Running but not Ready. */
  ready?: boolean;
  image?: string;
}

function conditions(ready: boolean, now: string): Array<{ type: string; status: string; lastTransitionTime: string }> {
  const status = ready ? "True" : "False";
  return [
    { type: "PodScheduled", status: "True", lastTransitionTime: now },
    { type: "Initialized", status: "True", lastTransitionTime: now },
    { type: "ContainersReady", status, lastTransitionTime: now },
    { type: "Ready", status, lastTransitionTime: now },
  ];
}

/**
 * Registers an executor pod: creates the Pod (label tasks.org.dev/executor=true, port annotation, a dummy image,
 * bound to `nodeName`, termination grace 0 so that deleting it, or its namespace, needs no kubelet), then
 * patches its status as a kubelet would: phase Running, podIP, Ready. Returns the pod as last written.
 */
export async function createExecutorPod(target: KubeTarget, spec: ExecutorPodSpec): Promise<V1Pod> {
  const core = coreApi(target);
  const port = spec.port ?? DEFAULT_EXECUTOR_PORT;
  await core.createNamespacedPod({
    namespace: spec.namespace,
    body: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: spec.name,
        namespace: spec.namespace,
        labels: { ...spec.labels, [EXECUTOR_POD_LABEL]: "true" },
        annotations: { ...spec.annotations, [EXECUTOR_PORT_ANNOTATION]: String(port) },
      },
      spec: {
        nodeName: spec.nodeName ?? DEFAULT_NODE_NAME,
        terminationGracePeriodSeconds: 0,
        automountServiceAccountToken: false,
        containers: [
          {
            name: "executor",
            image: spec.image ?? "registry.invalid/task-executor:test",
            ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
          },
        ],
      },
    },
  });
  return setExecutorPodStatus(target, spec.namespace, spec.name, {
    podIP: spec.podIP,
    hostIP: spec.hostIP ?? spec.podIP,
    ready: spec.ready ?? true,
  });
}

/** Writes the status of a pod as a kubelet would for a running container that is (not) ready. */
export async function setExecutorPodStatus(
  target: KubeTarget,
  namespace: string,
  name: string,
  status: { podIP: string; hostIP?: string; ready: boolean; startTime?: string },
): Promise<V1Pod> {
  const now = new Date().toISOString();
  const startTime = status.startTime ?? now;
  const hostIP = status.hostIP ?? status.podIP;
  return coreApi(target).patchNamespacedPodStatus(
    {
      namespace,
      name,
      body: {
        status: {
          phase: "Running",
          podIP: status.podIP,
          podIPs: [{ ip: status.podIP }],
          hostIP,
          hostIPs: [{ ip: hostIP }],
          startTime,
          conditions: conditions(status.ready, now),
          containerStatuses: [
            {
              name: "executor",
              image: "registry.invalid/task-executor:test",
              imageID: "",
              ready: status.ready,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: startTime } },
            },
          ],
        },
      },
    },
    mergePatch,
  );
}

/** Flips the Ready (and ContainersReady) condition of an executor pod, keeping its pod IP and start time. */
export async function setExecutorPodReady(target: KubeTarget, namespace: string, name: string, ready: boolean): Promise<V1Pod> {
  const pod = await coreApi(target).readNamespacedPod({ namespace, name });
  const podIP = pod.status?.podIP;
  if (!podIP) throw new Error(`pod ${namespace}/${name} has no pod IP yet`);
  return setExecutorPodStatus(target, namespace, name, {
    podIP,
    ready,
    ...(pod.status?.hostIP ? { hostIP: pod.status.hostIP } : {}),
    ...(pod.status?.startTime ? { startTime: new Date(pod.status.startTime).toISOString() } : {}),
  });
}

/** Deletes a pod at once (grace period 0); a pod that is already gone is fine. */
export async function deleteExecutorPod(target: KubeTarget, namespace: string, name: string): Promise<void> {
  try {
    await coreApi(target).deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
  } catch (error) {
    if ((error as { code?: number }).code !== 404) throw error;
  }
}

/** The API server path that proxies to `path` on the pod's `port` (use with `kubectl get --raw`). */
export function podProxyPath(namespace: string, name: string, port: number, path = "/"): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}:${port}/proxy${path.startsWith("/") ? path : `/${path}`}`;
}

export interface NetnsExecutorOptions extends Omit<StartExecutorOptions, "wrap"> {
  /** The namespace to run in: an existing one, an index for `createNetnsHost`, or a new free one (default). */
  netns?: NetnsHost | number;
  /** Port inside the namespace (default 5758). */
  port?: number;
}

/** A real executor listening on `<netns address>:<port>` inside its own network namespace. */
export interface NetnsExecutor {
  executor: ExecutorProcess;
  netns: NetnsHost;
  address: string;
  port: number;
  /** Stops the executor (SIGTERM) and removes the namespace if this call created it. */
  close(): Promise<void>;
}

/** Starts the executor inside a network namespace (see `createNetnsHost`), listening on the namespace's address. */
export async function startNetnsExecutor(options: NetnsExecutorOptions = {}): Promise<NetnsExecutor> {
  const owned = typeof options.netns !== "object";
  const netns = typeof options.netns === "object" ? options.netns : await createNetnsHost(options.netns);
  const port = options.port ?? DEFAULT_EXECUTOR_PORT;
  const { netns: _netns, port: _port, ...rest } = options;
  const args = (rest.args ?? []).filter((arg) => !arg.startsWith("--listen-addr"));
  let executor: ExecutorProcess;
  try {
    executor = await startExecutor({ ...rest, args: [...args, `--listen-addr=${netns.address}:${port}`], wrap: netns.exec });
  } catch (error) {
    if (owned) await netns.remove();
    throw error;
  }
  return {
    executor,
    netns,
    address: netns.address,
    port,
    async close() {
      await executor.stop();
      if (owned) await netns.remove();
    },
  };
}

export interface ExecutorPodOptions {
  namespace: string;
  name: string;
  nodeName?: string;
  port?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Ready at start (default true). */
  ready?: boolean;
  /** Options for the executor process (flags, env, token, data dir). */
  executor?: Omit<StartExecutorOptions, "wrap">;
  /** Network namespace index (default: the first free one). */
  netnsIndex?: number;
}

/** An executor pod: a Pod object in the API backed by a real executor process in its own network namespace. */
export interface ExecutorPod {
  namespace: string;
  name: string;
  podIP: string;
  port: number;
  /** http://podIP:port, reachable from the host. */
  url: string;
  netns: NetnsHost;
  executor: ExecutorProcess;
  setReady(ready: boolean): Promise<V1Pod>;
  /** Deletes the Pod object (the executor keeps running). */
  deletePod(): Promise<void>;
  /** Deletes the Pod, stops the executor, removes the network namespace. Idempotent. */
  stop(): Promise<void>;
}

/** Starts an executor in a fresh network namespace and registers it as a Running, Ready executor pod. */
export async function startExecutorPod(target: KubeTarget, options: ExecutorPodOptions): Promise<ExecutorPod> {
  const running = await startNetnsExecutor({ ...options.executor, ...(options.netnsIndex !== undefined ? { netns: options.netnsIndex } : {}), ...(options.port !== undefined ? { port: options.port } : {}) });
  try {
    await createExecutorPod(target, {
      namespace: options.namespace,
      name: options.name,
      podIP: running.address,
      hostIP: running.netns.hostAddress,
      port: running.port,
      ...(options.nodeName !== undefined ? { nodeName: options.nodeName } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.annotations ? { annotations: options.annotations } : {}),
      ...(options.ready !== undefined ? { ready: options.ready } : {}),
    });
  } catch (error) {
    await running.close();
    throw error;
  }
  let stopped = false;
  return {
    namespace: options.namespace,
    name: options.name,
    podIP: running.address,
    port: running.port,
    url: running.executor.url,
    netns: running.netns,
    executor: running.executor,
    setReady: (ready) => setExecutorPodReady(target, options.namespace, options.name, ready),
    deletePod: () => deleteExecutorPod(target, options.namespace, options.name),
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await deleteExecutorPod(target, options.namespace, options.name);
      } finally {
        await running.close();
      }
    },
  };
}
