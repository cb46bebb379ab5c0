import { ApiError, type Logger, type TaskSpec } from "@org/task-core";
import { createProcessRuntime, detectCgroups, type CgroupSupport } from "@org/runtime-process";
import type { Config } from "./config.js";
import { RuntimeSet } from "./manager/runtime-set.js";

/** Thrown when a mode's prerequisites are missing; the executor refuses to start. */
export class StartupError extends Error {}

/** Builds the runtimes the configuration asks for, checking each mode's prerequisites first. */
export async function buildRuntimes(config: Config, logger: Logger): Promise<RuntimeSet> {
  const common = { graceMs: config.stopGracePeriodMs, maxLogBytes: config.maxLogBytesPerTask, logger };
  if (config.enableSidecarMode) {
    throw new StartupError("--enable-sidecar-mode=true: sidecar mode is not available in this build");
  }
  if (config.enableContainerMode) {
    throw new StartupError("--enable-container-mode=true: container mode is not available in this build");
  }
  const cgroups = await detectCgroups();
  if (!cgroups) logger.warn("cgroups are not available: process tasks that ask for resource limits are rejected");
  else logger.info("cgroups for task limits", { version: cgroups.version });
  const processRuntime = createProcessRuntime({ ...common, ...(cgroups ? { cgroups } : {}) });
  return new RuntimeSet({ runtime: processRuntime, check: limitsCheck(cgroups) }, undefined);
}

/** Process tasks may ask for cgroup limits only where cgroups work; never run a limited task unlimited. */
function limitsCheck(cgroups: CgroupSupport | undefined) {
  return (spec: TaskSpec): void => {
    const limits = spec.process?.resources?.limits;
    const needsCgroups = limits && (limits.memory || limits.cpu || limits.pids);
    if (needsCgroups && !cgroups) {
      throw new ApiError("InvalidRequest", "resource limits (cpu, memory, pids) need cgroups, which this executor cannot use", [
        { path: "spec.process.resources.limits", message: "cgroups are not available on this executor" },
      ]);
    }
  };
}
