import { ApiError, type Logger, type TaskSpec } from "@org/task-core";
import { createProcessRuntime, detectCgroups, type CgroupSupport } from "@org/runtime-process";
import { checkSidecarPrerequisites, createSidecarRuntime, findMainContainer } from "@org/runtime-sidecar";
import type { Config } from "./config.js";
import { RuntimeSet } from "./manager/runtime-set.js";

/** Thrown when a mode's prerequisites are missing; the executor refuses to start. */
export class StartupError extends Error {}

/** Builds the runtimes the configuration asks for, checking each mode's prerequisites first. */
export async function buildRuntimes(config: Config, logger: Logger): Promise<RuntimeSet> {
  const common = { graceMs: config.stopGracePeriodMs, maxLogBytes: config.maxLogBytesPerTask, logger };
  if (config.enableContainerMode) {
    throw new StartupError("--enable-container-mode=true: container mode is not available in this build");
  }
  const cgroups = await detectCgroups();
  if (!cgroups) logger.warn("cgroups are not available: process tasks that ask for resource limits are rejected");
  else logger.info("cgroups for task limits", { version: cgroups.version });
  const processOptions = { ...common, ...(cgroups ? { cgroups } : {}) };
  const processRuntime = config.enableSidecarMode
    ? await sidecarRuntime(config, processOptions, logger)
    : createProcessRuntime(processOptions);
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

/** Sidecar mode: nsenter and its capabilities must be there; the main container may come later (a warning). */
async function sidecarRuntime(config: Config, options: Parameters<typeof createProcessRuntime>[0], logger: Logger) {
  const problems = await checkSidecarPrerequisites();
  if (problems.length) throw new StartupError(`--enable-sidecar-mode=true: ${problems.join("; ")}`);
  const main = await findMainContainer(config.mainContainerName);
  if (main) logger.info("sidecar mode: main container found", { name: config.mainContainerName, pid: main.pid });
  else {
    logger.warn("sidecar mode: no main container yet; tasks look for it when they start (is shareProcessNamespace: true set on the pod?)", {
      lookingFor: `SANDBOX_MAIN_CONTAINER=${config.mainContainerName}`,
    });
  }
  return createSidecarRuntime({ ...options, mainContainerName: config.mainContainerName });
}
