import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseQuantity, type ResourceLimits } from "@org/task-core";
import { parseCgroupMounts, parseProcCgroup, relativeTo, type CgroupMount } from "./cgroup-paths.js";

/** The controllers the executor uses for task limits. */
const CONTROLLERS = ["memory", "cpu", "pids"] as const;
type Controller = (typeof CONTROLLERS)[number];

const CPU_PERIOD_US = 100_000;
const PARENT_NAME = "task-executor";

/** Where task cgroups are made: one parent per v1 controller hierarchy, or one v2 parent. */
export type CgroupSupport =
  | { version: "v1"; parents: Record<Controller, string> }
  | { version: "v2"; parent: string };

/**
 * Finds where task cgroups can go: v2 when the unified hierarchy has the controllers (pure v2 machines),
 * else the v1 hierarchies of memory, cpu and pids. Task cgroups nest under the executor's own cgroup, so
 * limits set on the executor (its pod) still apply above them. Undefined when cgroups cannot be used.
 */
export async function detectCgroups(): Promise<CgroupSupport | undefined> {
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
    const v1 = CONTROLLERS.map((controller) => ownDir(mounts.find((mount) => mount.version === 1 && mount.options.includes(controller)), controller));
    if (v1.every((dir) => dir !== undefined)) {
      const parents = Object.fromEntries(CONTROLLERS.map((controller, i) => [controller, join(v1[i]!, PARENT_NAME)])) as Record<Controller, string>;
      for (const parent of Object.values(parents)) await mkdir(parent, { recursive: true });
      return { version: "v1", parents };
    }
    const unified = mounts.find((mount) => mount.version === 2);
    if (unified && ownDir(unified) !== undefined) {
      const available = (await readFile(join(unified.mountPoint, "cgroup.controllers"), "utf8")).trim().split(/\s+/);
      if (!CONTROLLERS.every((controller) => available.includes(controller))) return undefined;
      // v2 forbids processes in a cgroup whose controllers are delegated, so the parent hangs off the root.
      const parent = join(unified.mountPoint, PARENT_NAME);
      await mkdir(parent, { recursive: true });
      await writeFile(join(unified.mountPoint, "cgroup.subtree_control"), CONTROLLERS.map((c) => `+${c}`).join(" ")).catch(() => undefined);
      await writeFile(join(parent, "cgroup.subtree_control"), CONTROLLERS.map((c) => `+${c}`).join(" "));
      return { version: "v2", parent };
    }
  } catch {
    return undefined;
  }
  return undefined;
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

/** The cgroup directories of one task run. */
export function taskCgroupDirs(support: CgroupSupport, runId: string): Record<Controller, string> {
  const name = `task-${runId}`;
  if (support.version === "v2") {
    const dir = join(support.parent, name);
    return { memory: dir, cpu: dir, pids: dir };
  }
  return { memory: join(support.parents.memory, name), cpu: join(support.parents.cpu, name), pids: join(support.parents.pids, name) };
}

/** Creates a task's cgroups with its limits; returns the distinct directories. */
export async function createTaskCgroup(support: CgroupSupport, runId: string, limits: ResourceLimits): Promise<string[]> {
  const dirs = taskCgroupDirs(support, runId);
  const distinct = [...new Set(Object.values(dirs))];
  for (const dir of distinct) await mkdir(dir, { recursive: true });
  for (const setting of limitSettings(support.version, limits)) {
    await writeFile(join(dirs[setting.controller], setting.file), setting.value);
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

/** Kills what is left in the cgroups and removes them. */
export async function removeTaskCgroup(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    const procs = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "");
    for (const pid of procs.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
}
