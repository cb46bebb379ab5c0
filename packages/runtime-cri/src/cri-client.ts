/**
 * A small promise-based client of the CRI `runtime.v1` API over a unix socket, built on @grpc/grpc-js with the
 * proto subset in proto/cri-subset.proto (loaded at run time, relative to the package root).
 *
 * Messages use the protocol's snake_case field names; enums are their names as strings; int64 values arrive as
 * decimal strings (nanosecond timestamps do not fit a double) and may be sent as numbers.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

/** proto/ sits next to src/ and dist/, so the same relative path works from both. */
export const CRI_PROTO_PATH = fileURLToPath(new URL("../proto/cri-subset.proto", import.meta.url));

export type NamespaceMode = "POD" | "CONTAINER" | "NODE" | "TARGET";
export type ContainerState = "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED" | "CONTAINER_UNKNOWN";
export type PodSandboxState = "SANDBOX_READY" | "SANDBOX_NOTREADY";
type Int64 = string | number;
type Labels = Record<string, string>;

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
}

export interface PodSandboxConfig {
  metadata: { name: string; uid: string; namespace: string; attempt?: number };
  hostname?: string;
  log_directory: string;
  labels: Labels;
  annotations?: Labels;
  linux: { cgroup_parent?: string; security_context: { namespace_options: NamespaceOption } };
}

export interface Mount {
  container_path: string;
  host_path: string;
  readonly: boolean;
}

export interface LinuxContainerResources {
  cpu_period?: Int64;
  cpu_quota?: Int64;
  memory_limit_in_bytes?: Int64;
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command: string[];
  args: string[];
  working_dir: string;
  envs: { key: string; value: string }[];
  mounts: Mount[];
  labels: Labels;
  annotations?: Labels;
  log_path: string;
  linux: { resources?: LinuxContainerResources; security_context: { namespace_options: NamespaceOption } };
}

export interface ContainerStatus {
  id: string;
  state: ContainerState;
  created_at: string;
  started_at: string;
  finished_at: string;
  exit_code: number;
  reason: string;
  message: string;
  labels: Labels;
  log_path: string;
}

export interface Container {
  id: string;
  pod_sandbox_id: string;
  state: ContainerState;
  created_at: string;
  labels: Labels;
}

export interface PodSandbox {
  id: string;
  state: PodSandboxState;
  created_at: string;
  labels: Labels;
}

export interface VersionResponse {
  version: string;
  runtime_name: string;
  runtime_version: string;
  runtime_api_version: string;
}

type Callback = (error: grpc.ServiceError | null, response: unknown) => void;
type RawClient = grpc.Client & Record<string, (request: unknown, options: grpc.CallOptions, callback: Callback) => void>;
type ServiceCtor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => RawClient;

let services: { runtime: ServiceCtor; image: ServiceCtor } | undefined;

function loadServices(): { runtime: ServiceCtor; image: ServiceCtor } {
  if (services) return services;
  const definition = protoLoader.loadSync(CRI_PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const root = grpc.loadPackageDefinition(definition) as unknown as {
    runtime: { v1: { RuntimeService: ServiceCtor; ImageService: ServiceCtor } };
  };
  services = { runtime: root.runtime.v1.RuntimeService, image: root.runtime.v1.ImageService };
  return services;
}

/** The gRPC status code of an error, if it is a gRPC error. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The runtime's own words for a gRPC error (its `details`), else the error's message. */
export function grpcMessage(error: unknown): string {
  const details = (error as { details?: unknown } | null)?.details;
  if (typeof details === "string" && details !== "") return details;
  return error instanceof Error ? error.message : String(error);
}

/** True when the runtime says the object does not exist (containerd answers NotFound). */
export function isNotFound(error: unknown): boolean {
  return grpcCode(error) === grpc.status.NOT_FOUND || /\bnot found\b/i.test(grpcMessage(error));
}

export interface CriClientOptions {
  /** Deadline of ordinary calls (default 30 s). */
  callTimeoutMs?: number;
  /** Deadline of PullImage (default 5 min). */
  pullTimeoutMs?: number;
}

export class CriClient {
  private readonly runtime: RawClient;
  private readonly image: RawClient;
  private readonly callTimeoutMs: number;
  private readonly pullTimeoutMs: number;

  constructor(readonly socketPath: string, options: CriClientOptions = {}) {
    const { runtime, image } = loadServices();
    const address = `unix://${socketPath}`;
    const channelOptions: grpc.ClientOptions = { "grpc.max_receive_message_length": 16 * 1024 * 1024 };
    this.runtime = new runtime(address, grpc.credentials.createInsecure(), channelOptions);
    // A second client on the same address shares the channel (grpc-js pools subchannels).
    this.image = new image(address, grpc.credentials.createInsecure(), channelOptions);
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    this.pullTimeoutMs = options.pullTimeoutMs ?? 300_000;
  }

  private call<T>(client: RawClient, method: string, request: unknown, timeoutMs = this.callTimeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = client[method];
      if (typeof fn !== "function") {
        reject(new Error(`CRI method ${method} is not in the proto subset`));
        return;
      }
      fn.call(client, request, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error) reject(error);
        else resolve(response as T);
      });
    });
  }

  version(timeoutMs?: number): Promise<VersionResponse> {
    return this.call(this.runtime, "Version", { version: "v1" }, timeoutMs);
  }

  /** The image's id, or undefined when the image is not present. */
  async imageStatus(image: string): Promise<string | undefined> {
    const response = await this.call<{ image: { id: string } | null }>(this.image, "ImageStatus", { image: { image } });
    return response.image?.id || undefined;
  }

  async pullImage(image: string, sandboxConfig?: PodSandboxConfig): Promise<string> {
    const request = { image: { image }, ...(sandboxConfig ? { sandbox_config: sandboxConfig } : {}) };
    const response = await this.call<{ image_ref: string }>(this.image, "PullImage", request, this.pullTimeoutMs);
    return response.image_ref;
  }

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const response = await this.call<{ pod_sandbox_id: string }>(this.runtime, "RunPodSandbox", { config });
    return response.pod_sandbox_id;
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.runtime, "StopPodSandbox", { pod_sandbox_id: podSandboxId });
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call(this.runtime, "RemovePodSandbox", { pod_sandbox_id: podSandboxId });
  }

  async listPodSandbox(labelSelector: Record<string, string>): Promise<PodSandbox[]> {
    const response = await this.call<{ items: PodSandbox[] }>(this.runtime, "ListPodSandbox", {
      filter: { label_selector: labelSelector },
    });
    return response.items;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const response = await this.call<{ container_id: string }>(this.runtime, "CreateContainer", {
      pod_sandbox_id: podSandboxId,
      config,
      sandbox_config: sandboxConfig,
    });
    return response.container_id;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call(this.runtime, "StartContainer", { container_id: containerId });
  }

  /** Stop signal, then a kill after `timeoutSeconds`; resolves once the container has stopped. */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    const deadline = this.callTimeoutMs + timeoutSeconds * 1000;
    await this.call(this.runtime, "StopContainer", { container_id: containerId, timeout: timeoutSeconds }, deadline);
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call(this.runtime, "RemoveContainer", { container_id: containerId });
  }

  async listContainers(filter: { podSandboxId?: string; labelSelector?: Record<string, string> }): Promise<Container[]> {
    const response = await this.call<{ containers: Container[] }>(this.runtime, "ListContainers", {
      filter: { pod_sandbox_id: filter.podSandboxId ?? "", label_selector: filter.labelSelector ?? {} },
    });
    return response.containers;
  }

  async containerStatus(containerId: string): Promise<ContainerStatus> {
    const response = await this.call<{ status: ContainerStatus | null }>(this.runtime, "ContainerStatus", {
      container_id: containerId,
    });
    if (!response.status) throw Object.assign(new Error(`container ${containerId} not found`), { code: grpc.status.NOT_FOUND });
    return response.status;
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    await this.call(this.runtime, "ReopenContainerLog", { container_id: containerId });
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }
}
