import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { parseQuantity, silentLogger, type Logger, type ResourceLimits } from "@org/task-core";
import { parseCgroupMounts, parseProcCgroup, relativeTo, type CgroupMount } from "./cgroup-paths.js";

/** The controllers the executor uses for task limits. */
const CONTROLLERS = ["memory", "cpu", "pids"] as const;
type Controller = (typeof CONTROLLERS)[number];

const CPU_PERIOD_US = 100_000;
const PARENT_NAME = "task-executor";
/** cgroup v2: the leaf the executor moves its own processes into, so that its cgroup may delegate controllers. */
export const V2_SELF_LEAF = "executor";

/**
 * Where task cgroups are made: one parent per v1 controller hierarchy (and that hierarchy's mount point), or one
 * v2 parent.
 */
export type CgroupSupport =
  | { version: "v1"; parents: Record<Controller, string>; mountPoints?: Record<Controller, string> }
  | { version: "v2"; parent: string };

/**
 * Finds where task cgroups can go: the v1 hierarchies of memory, cpu and pids, else v2 when the unified hierarchy
 * gives the executor's cgroup those controllers. Task cgroups nest under the executor's own cgroup, so limits set
 * on the executor (its pod) still apply above them. Undefined (and the reason logged) when cgroups cannot be used.
 */
export async function detectCgroups(logger: Logger = silentLogger): Promise<CgroupSupport | undefined> {
  const mounts = parseCgroupMounts(await readFile("/proc/self/mountinfo", "utf8").catch(() => ""));
  const own = parseProcCgroup(await readFile("/proc/self/cgroup", "utf8").catch(() => ""));
  /** The executor's own cgroup directory in the hierarchy of `mount`, if the mount shows it. */
  const ownDir = (mount: CgroupMount | undefined, controller?: Controller): string | undefined => {
    if (!mount) return undefined;
    const membership = own.find((entry) => (controller ? entry.controllers.includes(controller) : entry.hierarchy === 0 && entry.controllers.length === 0));
    const relative = membership && relativeTo(mount.root, membership.path);
    return relative === undefined ? undefined : join(mount.mountPoint, relative);
  };
  try {
    const v1Mounts = CONTROLLERS.map((controller) => mounts.find((mount) => mount.version === 1 && mount.options.includes(controller)));
    const v1 = CONTROLLERS.map((controller, i) => ownDir(v1Mounts[i], controller));
    if (v1.every((dir) => dir !== undefined)) {
      const parents = Object.fromEntries(CONTROLLERS.map((controller, i) => [controller, join(v1[i]!, PARENT_NAME)])) as Record<Controller, string>;
      const mountPoints = Object.fromEntries(CONTROLLERS.map((controller, i) => [controller, v1Mounts[i]!.mountPoint])) as Record<Controller, string>;
      for (const parent of Object.values(parents)) await mkdir(parent, { recursive: true });
      return { version: "v1", parents, mountPoints };
    }
    const unified = mounts.find((mount) => mount.version === 2);
    const unifiedOwn = ownDir(unified);
    if (unified && unifiedOwn !== undefined) {
      const available = (await readFile(join(unifiedOwn, "cgroup.controllers"), "utf8")).trim().split(/\s+/);
      const missing = CONTROLLERS.filter((controller) => !available.includes(controller));
      if (missing.length > 0) {
        logger.warn("cgroup v2 does not give the executor's cgroup the controllers task limits need", { cgroup: unifiedOwn, missing });
        return undefined;
      }
      return { version: "v2", parent: await prepareV2Parent(unified.mountPoint, unifiedOwn, CONTROLLERS) };
    }
    logger.info("no usable cgroup hierarchy: tasks with resource limits are refused", { mounts: mounts.length });
  } catch (error) {
    logger.warn("cgroups cannot be used: tasks with resource limits are refused", { error: String(error) });
    return undefined;
  }
  return undefined;
}

/**
 * Makes `<own>/task-executor` the parent of task cgroups on cgroup v2, with `controllers` delegated to it. v2
 * forbids a cgroup that delegates controllers to hold processes itself, so unless `own` is the root, the executor
 * first moves every process of its cgroup (itself and whatever shares its container) into the leaf
 * `<own>/executor`; limits set on `own` (the pod's) then apply to the executor and to every task alike. An executor
 * started again inside that leaf uses the leaf's parent. Returns the parent directory.
 */
export async function prepareV2Parent(mountPoint: string, ownDir: string, controllers: readonly string[]): Promise<string> {
  const enable = controllers.map((controller) => `+${controller}`).join(" ");
  let base = ownDir;
  if (basename(ownDir) === V2_SELF_LEAF && dirname(ownDir) !== ownDir && (await isCgroup(join(dirname(ownDir), PARENT_NAME)))) base = dirname(ownDir);
  if (base !== mountPoint) {
    const leaf = join(base, V2_SELF_LEAF);
    await mkdir(leaf, { recursive: true });
    for (const pid of (await readFile(join(base, "cgroup.procs"), "utf8")).split("\n").filter(Boolean)) {
      await writeFile(join(leaf, "cgroup.procs"), pid).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ESRCH") throw error; // a process that ended meanwhile
      });
    }
  }
  if (enable) await writeFile(join(base, "cgroup.subtree_control"), enable);
  const parent = join(base, PARENT_NAME);
  await mkdir(parent, { recursive: true });
  if (enable) await writeFile(join(parent, "cgroup.subtree_control"), enable);
  return parent;
}

async function isCgroup(path: string): Promise<boolean> {
  try {
    await readFile(join(path, "cgroup.procs"));
    return true;
  } catch {
    return false;
  }
}

/** One limit file to write. */
export interface LimitSetting {
  controller: Controller;
  file: string;
  value: string;
}

/** The files and values that enforce `limits` on a cgroup of the given version. Pure. */
export function limitSettings(version: "v1" | "v2", limits: ResourceLimits): LimitSetting[] {
  const settings: LimitSetting[] = [];
  const memory = limits.memory ? Math.floor(parseQuantity(limits.memory)!) : undefined;
  const cpuQuota = limits.cpu ? Math.max(1000, Math.round(parseQuantity(limits.cpu)! * CPU_PERIOD_US)) : undefined;
  if (version === "v1") {
    if (memory !== undefined) settings.push({ controller: "memory", file: "memory.limit_in_bytes", value: String(memory) });
    if (cpuQuota !== undefined) {
      settings.push({ controller: "cpu", file: "cpu.cfs_period_us", value: String(CPU_PERIOD_US) });
      settings.push({ controller: "cpu", file: "cpu.cfs_quota_us", value: String(cpuQuota) });
    }
  } else {
    if (memory !== undefined) {
      settings.push({ controller: "memory", file: "memory.max", value: String(memory) });
      settings.push({ controller: "memory", file: "memory.swap.max", value: "0" });
    }
    if (cpuQuota !== undefined) settings.push({ controller: "cpu", file: "cpu.max", value: `${cpuQuota} ${CPU_PERIOD_US}` });
  }
  if (limits.pids !== undefined) settings.push({ controller: "pids", file: "pids.max", value: String(limits.pids) });
  return settings;
}

/**
 * The cgroup directories of one task run: below the executor's parents, or, for each v1 hierarchy in which the task
 * is to stay inside another cgroup (`nestUnder`, cgroup.procs files such as the main container's in sidecar mode),
 * below that cgroup, so its limits apply to the task as well.
 */
export function taskCgroupDirs(support: CgroupSupport, runId: string, nestUnder: readonly string[] = []): Record<Controller, string> {
  const name = `task-${runId}`;
  if (support.version === "v2") {
    const dir = join(support.parent, name);
    return { memory: dir, cpu: dir, pids: dir };
  }
  const dirFor = (controller: Controller): string => {
    const mountPoint = support.mountPoints?.[controller];
    const outer = mountPoint === undefined ? undefined : nestUnder.find((file) => file.startsWith(`${mountPoint}/`));
    return outer ? join(dirname(outer), name) : join(support.parents[controller], name);
  };
  return { memory: dirFor("memory"), cpu: dirFor("cpu"), pids: dirFor("pids") };
}

/**
 * Creates a task's cgroups with its limits; returns the distinct directories. With `nestUnder` (sidecar mode: the
 * main container's cgroup.procs files) the task's cgroups go below those cgroups, so the container's limits still
 * bound the task; on cgroup v2 that is impossible (the container's cgroup holds processes, so it cannot delegate
 * controllers) and the start is refused rather than run outside the container's limits.
 */
export async function createTaskCgroup(support: CgroupSupport, runId: string, limits: ResourceLimits, nestUnder: readonly string[] = []): Promise<string[]> {
  if (support.version === "v2" && nestUnder.length > 0) {
    throw new Error("resource limits of a task inside the main container need cgroup v1 here: on cgroup v2 the task's cgroup cannot be nested in the container's, and outside it the container's limits would not apply");
  }
  const dirs = taskCgroupDirs(support, runId, nestUnder);
  const distinct = [...new Set(Object.values(dirs))];
  const made: string[] = [];
  try {
    for (const dir of distinct) {
      await mkdir(dir);
      made.push(dir);
    }
    for (const setting of limitSettings(support.version, limits)) {
      await writeFile(join(dirs[setting.controller], setting.file), setting.value);
    }
  } catch (error) {
    await removeTaskCgroup(made);
    throw error;
  }
  return distinct;
}

/** True when the kernel's OOM killer killed a process of the cgroup (v1 memory.oom_control, v2 memory.events). */
export async function cgroupOomKilled(dirs: string[]): Promise<boolean> {
  for (const dir of dirs) {
    for (const file of ["memory.events", "memory.oom_control"]) {
      const content = await readFile(join(dir, file), "utf8").catch(() => "");
      const match = /^oom_kill (\d+)$/m.exec(content);
      if (match && Number(match[1]) > 0) return true;
    }
  }
  return false;
}

/** Kills what is left in the cgroups and removes them; a cgroup that cannot be removed is logged (it leaks). */
export async function removeTaskCgroup(dirs: string[], logger: Logger = silentLogger): Promise<void> {
  for (const dir of dirs) {
    const procs = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "");
    for (const pid of procs.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
        if (attempt === 19) {
          logger.warn("cannot remove a task cgroup; it is left behind", { cgroup: dir, error: String(error) });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
}
