/**
 * @org/runtime-process — runs tasks as host processes.
 *
 * - {@link createProcessRuntime}: the TaskRuntime, backed by the task-shim launcher (docs/task-shim.md)
 * - {@link LaunchPlan}/{@link LaunchPlanner}: how other runtimes (sidecar) change what is launched
 * - {@link TaskFiles}: the files a keeper writes into a task directory
 */
export { createProcessRuntime, DEFAULT_SHIM_PATH, TASK_SHIM_SOURCE, type ProcessHandle, type ProcessRuntimeOptions } from "./runtime.js";
export { defaultLaunchPlan, mergeEnv, TASK_MARKER_ENV, type LaunchPlan, type LaunchPlanner } from "./plan.js";
export { TaskFiles, readExitFile, readPidFile, type ExitFile, type PidFile } from "./files.js";
export { outcomeFromExitFile, type OutcomeMarkers } from "./outcome.js";
export { encodeRequest, startRequestFields, type StartRequest } from "./launcher.js";
export { detectCgroups, limitSettings, prepareV2Parent, taskCgroupDirs, V2_SELF_LEAF, type CgroupSupport, type LimitSetting } from "./cgroups.js";
export {
  cgroupProcsFiles,
  parseCgroupMounts,
  parseProcCgroup,
  relativeTo,
  type CgroupMembership,
  type CgroupMount,
} from "./cgroup-paths.js";
