import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { cgroupProcsFiles, parseCgroupMounts, parseProcCgroup, type CgroupMembership, type CgroupMount } from "@org/runtime-process";

/** The cgroup.procs files of process `pid`'s cgroups that exist here and can be written. */
export async function reachableCgroupProcs(pid: number): Promise<{ reachable: string[]; unreachable: string[] }> {
  let memberships: CgroupMembership[];
  let mounts: CgroupMount[];
  try {
    memberships = parseProcCgroup(await readFile(`/proc/${pid}/cgroup`, "utf8"));
    mounts = parseCgroupMounts(await readFile("/proc/self/mountinfo", "utf8"));
  } catch {
    return { reachable: [], unreachable: [] };
  }
  const reachable: string[] = [];
  const unreachable: string[] = [];
  for (const file of cgroupProcsFiles(memberships, mounts)) {
    try {
      await access(file, constants.W_OK);
      reachable.push(file);
    } catch {
      unreachable.push(file);
    }
  }
  return { reachable, unreachable };
}
