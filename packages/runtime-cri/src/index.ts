/**
 * @org/runtime-cri — runs tasks as containers through a CRI runtime (containerd) over gRPC.
 *
 * - {@link createCriRuntime}: the `container` TaskRuntime (plus garbage collection of orphaned sandboxes)
 * - {@link checkCriRuntime}: start-up check of the CRI socket
 * - {@link checkVolumes}: the check of a spec's volume names against the configured volumes (400 at create time)
 */
export { createCriRuntime, CONTAINER_RUNTIME_NAME, type CriRuntime, type CriRuntimeOptions } from "./runtime.js";
export { checkCriRuntime, type CriRuntimeInfo } from "./check.js";
export type { CriHandle } from "./monitor.js";
export {
  unknownVolumes,
  checkVolumes,
  UnknownVolumeError,
  criResources,
  sandboxConfig,
  containerConfig,
  resultFromStatus,
  EXECUTOR_LABEL,
  TASK_LABEL,
  CONTAINER_LOG,
} from "./mapping.js";
export { CriClient, CRI_PROTO_PATH } from "./cri-client.js";
