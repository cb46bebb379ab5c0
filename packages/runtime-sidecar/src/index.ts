/**
 * @org/runtime-sidecar — runs tasks inside the main container of the pod (sidecar mode), see README.md.
 *
 * - {@link createSidecarRuntime}: the TaskRuntime (the process runtime with an nsenter launch plan)
 * - {@link checkSidecarPrerequisites}, {@link findMainContainer}: start-up checks of the executor
 * - pure parsers of /proc files and the launch plan pieces, exported for tests and tools
 */
export { createSidecarRuntime, type SidecarRuntimeOptions } from "./runtime.js";
export { checkSidecarPrerequisites, findExecutable, findSidecarTools, type SidecarTools } from "./prerequisites.js";
export {
  envValue,
  findMainContainer,
  MAIN_CONTAINER_ENV,
  mainContainerCandidates,
  scanProcesses,
  type MainContainer,
  type ProcessInfo,
} from "./discovery.js";
export { createSidecarPlanner, mainContainerNotFoundMessage, sidecarArgv, sidecarEnv } from "./launch.js";
export { reachableCgroupProcs } from "./cgroups.js";
export {
  Capabilities,
  missingCapabilities,
  parseEffectiveCapabilities,
  parseEffectiveIds,
  parseEnviron,
  parseStat,
  type CapabilityName,
  type ProcStat,
} from "./procfs.js";
