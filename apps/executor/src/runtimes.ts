import { ApiError, hasLimits, type Logger, type TaskSpec } from "@org/task-core";
import { createProcessRuntime } from "@org/runtime-process";
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
  const processRuntime = createProcessRuntime(common);
  return new RuntimeSet({ runtime: processRuntime, check: rejectLimits }, undefined);
}

function rejectLimits(spec: TaskSpec): void {
  if (hasLimits(spec.process?.resources)) {
    throw new ApiError("InvalidRequest", "resource limits for process tasks need cgroups, which this executor cannot use", [
      { path: "spec.process.resources", message: "not supported here" },
    ]);
  }
}
