import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApiError, needsCgroup, type Logger, type TaskSpec } from "@org/task-core";
import { createProcessRuntime, detectCgroups, type CgroupSupport } from "@org/runtime-process";
import { checkSidecarPrerequisites, createSidecarRuntime, findMainContainer, mainContainerNotFoundMessage } from "@org/runtime-sidecar";
import { writeFileAtomic } from "@org/store";
import type { Config } from "./config.js";
import type { ReadinessCheck } from "./http/readiness.js";
import { RuntimeSet } from "./manager/runtime-set.js";

/**
 * The CRI runtime (and gRPC with it) is loaded only when container mode is on: it is a sizeable share of the
 * executor's start-up time, which every restart pays.
 */
const loadCri = () => import("@org/runtime-cri");
type CriModule = Awaited<ReturnType<typeof loadCri>>;

/** Thrown when a mode's prerequisites are missing; the executor refuses to start. */
export class StartupError extends Error {}

/** Builds the runtimes the configuration asks for, checking each mode's prerequisites first. */
export async function buildRuntimes(config: Config, logger: Logger): Promise<RuntimeSet> {
  const common = { graceMs: config.stopGracePeriodMs, maxLogBytes: config.maxLogBytesPerTask, logger };
  const cgroups = await detectCgroups(logger);
  if (!cgroups) logger.warn("cgroups are not available: process tasks that ask for resource limits are rejected");
  else logger.info("cgroups for task limits", { version: cgroups.version });
  const processOptions = { ...common, ...(cgroups ? { cgroups } : {}), ...(config.taskShimPath ? { shimPath: config.taskShimPath } : {}) };
  const processRuntime = config.enableSidecarMode
    ? await sidecarRuntime(config, processOptions, logger)
    : createProcessRuntime(processOptions);
  const containerEntry = config.enableContainerMode ? await containerRuntime(config, common, logger) : undefined;
  return new RuntimeSet({ runtime: processRuntime, check: limitsCheck(cgroups) }, containerEntry);
}

/**
 * What `GET /ready` asks of the enabled runtimes, besides the data dir: container mode, that the CRI runtime
 * answers `Version` (a new connection each time, so a restarted containerd is seen at once rather than after the
 * gRPC reconnect backoff); sidecar mode, that the main container is visible. Process mode needs nothing beyond
 * the host.
 */
export function runtimeReadinessChecks(config: Config, timeoutMs: number): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [];
  if (config.enableContainerMode) {
    checks.push({ name: "cri", run: async () => void (await (await loadCri()).checkCriRuntime(config.criSocket, timeoutMs)) });
  }
  if (config.enableSidecarMode) {
    checks.push({
      name: "mainContainer",
      run: async () => {
        if (!(await findMainContainer(config.mainContainerName))) throw new Error(mainContainerNotFoundMessage(config.mainContainerName));
      },
    });
  }
  return checks;
}

/** Container mode: the CRI runtime must answer `Version` on the socket before the executor serves. */
async function containerRuntime(config: Config, common: { graceMs: number; maxLogBytes: number; logger: Logger }, logger: Logger) {
  const cri = await loadCri();
  let info;
  try {
    info = await cri.checkCriRuntime(config.criSocket);
  } catch (error) {
    throw new StartupError(`--enable-container-mode=true: the CRI runtime at --cri-socket=${config.criSocket} does not answer: ${(error as Error).message}`);
  }
  logger.info("container mode: CRI runtime found", { socket: config.criSocket, ...info });
  const runtime = cri.createCriRuntime({
    ...common,
    socketPath: config.criSocket,
    executorId: await executorId(config.dataDir),
    volumes: config.volumes,
  });
  return {
    runtime,
    check: containerCheck(cri, config.volumes),
    collectGarbage: (liveTaskNames: Set<string>) => runtime.collectGarbage(liveTaskNames).then(() => undefined),
  };
}

/** The executor's id, kept in the data dir so its sandboxes are found again after a restart. */
async function executorId(dataDir: string): Promise<string> {
  const path = join(dataDir, "executor-id");
  // Only a missing file means a first start: an unreadable one must not give this executor a new identity,
  // which would orphan its sandboxes.
  const stored = (
    await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "";
      throw new StartupError(`cannot read the executor id ${path}: ${error.message}`);
    })
  ).trim();
  if (stored) return stored;
  const id = randomUUID();
  await writeFileAtomic(path, id);
  return id;
}

/** Container tasks may mount only configured volumes, and may ask only for limits the CRI can enforce. */
function containerCheck(cri: CriModule, volumes: Record<string, string>) {
  return (spec: TaskSpec): void => {
    const container = spec.container!;
    try {
      cri.checkVolumes(spec, volumes);
    } catch (error) {
      if (!(error instanceof cri.UnknownVolumeError)) throw error;
      throw new ApiError("InvalidRequest", error.message, [{ path: `spec.container.volumeMounts[${error.index}].name`, message: "not a configured volume" }]);
    }
    const limits = container.resources?.limits;
    for (const key of ["pids", "ephemeral-storage"] as const) {
      if (limits?.[key] !== undefined) {
        throw new ApiError("InvalidRequest", `container tasks cannot limit ${key} through CRI; use cpu and memory`, [
          { path: `spec.container.resources.limits.${key}`, message: "not supported for container tasks" },
        ]);
      }
    }
  };
}

/** Process tasks may ask for cgroup limits only where cgroups work; never run a limited task unlimited. */
function limitsCheck(cgroups: CgroupSupport | undefined) {
  return (spec: TaskSpec): void => {
    if (needsCgroup(spec.process?.resources?.limits) && !cgroups) {
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
