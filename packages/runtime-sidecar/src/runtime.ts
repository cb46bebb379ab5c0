import { createProcessRuntime, type ProcessRuntimeOptions } from "@org/runtime-process";
import { silentLogger, type TaskRuntime } from "@org/task-core";
import { createSidecarPlanner } from "./launch.js";

export interface SidecarRuntimeOptions extends ProcessRuntimeOptions {
  /** Value of SANDBOX_MAIN_CONTAINER that marks the main container's processes. */
  mainContainerName: string;
}

/**
 * The sidecar runtime: the process runtime (keeper, exit records, logs, timeouts, stop, recovery) whose launch plan
 * runs each task inside the main container. Its handles carry runtime name `sidecar`; `planLaunch` is replaced.
 */
export function createSidecarRuntime(options: SidecarRuntimeOptions): TaskRuntime {
  const { mainContainerName, ...processOptions } = options;
  return createProcessRuntime({
    ...processOptions,
    name: options.name ?? "sidecar",
    planLaunch: createSidecarPlanner(mainContainerName, options.logger ?? silentLogger),
  });
}
