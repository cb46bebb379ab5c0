import { readdir, readFile } from "node:fs/promises";
import { TASK_MARKER_ENV } from "@org/runtime-process";
import { parseEffectiveIds, parseEnviron, parseStat } from "./procfs.js";

/** The main container announces itself with this variable in its environment; its value is the container name. */
export const MAIN_CONTAINER_ENV = "SANDBOX_MAIN_CONTAINER";

/** A process as discovery sees it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Clock ticks after boot (field 22 of /proc/PID/stat). */
  startTime: number;
  /** `NAME=value` entries; empty when the environment could not be read. */
  env: string[];
}

/** The process whose namespaces, user, cgroups, environment and working directory tasks get. */
export interface MainContainer {
  pid: number;
  startTime: number;
  env: string[];
  /** Effective user and group id (/proc/PID/status). */
  uid: number;
  gid: number;
}

/**
 * The processes that can stand for main container `name`, best first. A candidate carries
 * `SANDBOX_MAIN_CONTAINER=<name>`, no task marker (tasks inherit the main container's environment), and is neither
 * the executor (`selfPid`) nor one of its descendants. The oldest wins (start time, then pid): that is the
 * container's first process, not something later started in it.
 */
export function mainContainerCandidates(processes: ProcessInfo[], name: string, selfPid: number): ProcessInfo[] {
  const parents = new Map(processes.map((info) => [info.pid, info.ppid]));
  return processes
    .filter(
      (info) =>
        info.pid !== selfPid &&
        envValue(info.env, MAIN_CONTAINER_ENV) === name &&
        envValue(info.env, TASK_MARKER_ENV) === undefined &&
        !descendsFrom(info.pid, selfPid, parents),
    )
    .sort((a, b) => a.startTime - b.startTime || a.pid - b.pid);
}

/** The value a program would see for `name` (the first entry wins, as with getenv). */
export function envValue(env: string[], name: string): string | undefined {
  const entry = env.find((item) => item.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/** Finds main container `name` among the processes visible in /proc, as of now. */
export async function findMainContainer(name: string): Promise<MainContainer | undefined> {
  for (const candidate of mainContainerCandidates(await scanProcesses(), name, process.pid)) {
    const ids = parseEffectiveIds((await readProcFile(candidate.pid, "status")) ?? "");
    const stat = parseStat((await readProcFile(candidate.pid, "stat")) ?? "");
    // Gone meanwhile, or its pid already reused: try the next one.
    if (!ids || stat?.startTime !== candidate.startTime) continue;
    return { pid: candidate.pid, startTime: candidate.startTime, env: candidate.env, ...ids };
  }
  return undefined;
}

/** Reads every process in /proc; processes that vanish while being read are left out. */
export async function scanProcesses(): Promise<ProcessInfo[]> {
  const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const found: ProcessInfo[] = [];
  // In batches, to stay far from the open-file limit on busy hosts.
  for (let start = 0; start < pids.length; start += 64) {
    const batch = await Promise.all(pids.slice(start, start + 64).map(readProcess));
    for (const info of batch) if (info) found.push(info);
  }
  return found;
}

async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  const stat = parseStat((await readProcFile(pid, "stat")) ?? "");
  if (!stat) return undefined;
  return { ...stat, env: parseEnviron((await readProcFile(pid, "environ")) ?? "") };
}

async function readProcFile(pid: number, file: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return undefined;
  }
}

function descendsFrom(pid: number, ancestor: number, parents: Map<number, number>): boolean {
  const seen = new Set<number>();
  for (let current = parents.get(pid); current !== undefined && current > 0; current = parents.get(current)) {
    if (current === ancestor) return true;
    if (seen.has(current)) return false;
    seen.add(current);
  }
  return false;
}
