import { mergeEnv, TASK_MARKER_ENV, type LaunchPlanner } from "@org/runtime-process";
import { TaskStartError, type EnvVar, type Logger } from "@org/task-core";
import { reachableCgroupProcs } from "./cgroups.js";
import { findMainContainer, MAIN_CONTAINER_ENV, type MainContainer } from "./discovery.js";
import { findSidecarTools, type SidecarTools } from "./prerequisites.js";

/**
 * The argv that runs `command` inside the main container (see docs in README.md, "How a task is launched"):
 *
 *     nsenter --target PID --pid --no-fork -- unshare --fork -- \
 *       nsenter --target PID --mount --uts --ipc --net --root --wd|--wdns=DIR --setgid G --setuid U --no-fork -- command...
 *
 * The first nsenter only sets the PID namespace for its children and execs unshare, which forks (the child is in
 * the main container's PID namespace) and, unlike a forking nsenter, blocks SIGTERM/SIGINT while it waits, so a
 * stop signal sent to the process group reaches the task alone and the task's own exit status is reported. The
 * second nsenter joins the other namespaces, the container's root, working directory and user, and execs the
 * command (looked up in the container's PATH). Everything before the command runs from the executor's file system.
 */
export function sidecarArgv(
  tools: SidecarTools,
  target: Pick<MainContainer, "pid" | "uid" | "gid">,
  workingDir: string | undefined,
  command: string[],
): string[] {
  const pid = String(target.pid);
  return [
    tools.nsenter, "--target", pid, "--pid", "--no-fork", "--",
    tools.unshare, "--fork", "--",
    tools.nsenter, "--target", pid, "--mount", "--uts", "--ipc", "--net", "--root",
    workingDir ? `--wdns=${workingDir}` : "--wd",
    "--setgid", String(target.gid), "--setuid", String(target.uid), "--no-fork", "--",
    ...command,
  ];
}

/** The main container's environment, then the task's `env` (the task wins), then the task marker. */
export function sidecarEnv(mainEnv: string[], taskEnv: EnvVar[], taskName: string): string[] {
  return mergeEnv(
    mainEnv,
    taskEnv.map(({ name, value }) => `${name}=${value}`),
    [`${TASK_MARKER_ENV}=${taskName}`],
  );
}

export function mainContainerNotFoundMessage(name: string): string {
  return (
    `no process with ${MAIN_CONTAINER_ENV}=${name} in its environment is visible to the executor: the main ` +
    `container must set that variable, and the pod needs shareProcessNamespace: true`
  );
}

/** The launch planner of sidecar mode: finds the main container anew for every start and wraps the command. */
export function createSidecarPlanner(mainContainerName: string, logger: Logger): LaunchPlanner {
  const warned = new Set<string>();
  let tools: SidecarTools | undefined;
  return async (task, plan) => {
    const main = await findMainContainer(mainContainerName);
    if (!main) throw new TaskStartError("MainContainerNotFound", mainContainerNotFoundMessage(mainContainerName), 1);
    tools ??= await findSidecarTools();
    if (!tools) throw new TaskStartError("StartError", "nsenter and unshare (util-linux) must be in the executor's PATH", 1);
    const cgroups = await reachableCgroupProcs(main.pid);
    const key = `${main.pid}@${main.startTime}`;
    if (cgroups.unreachable.length > 0 && !warned.has(key)) {
      warned.add(key);
      logger.warn(
        cgroups.reachable.length === 0
          ? "tasks run outside the main container's cgroups (its resource limits do not apply to them): none of its cgroup.procs files can be written from here"
          : "tasks join only some of the main container's cgroups: the others cannot be written from here",
        { mainContainer: mainContainerName, pid: main.pid, unreachable: cgroups.unreachable },
      );
    }
    logger.debug("running task in the main container", { task: task.name, pid: main.pid, uid: main.uid, gid: main.gid });
    return {
      argv: sidecarArgv(tools, main, task.spec.process?.workingDir, plan.argv),
      env: sidecarEnv(main.env, task.spec.process?.env ?? [], task.name),
      workingDir: "",
      cgroupProcs: cgroups.reachable,
    };
  };
}
