import { posix } from "node:path";

// Where a process's cgroups are, as seen through this machine's cgroup mounts: shared by task limits (the
// executor's own cgroups) and sidecar mode (the main container's cgroups).

/** One line of /proc/PID/cgroup: `hierarchy-id:controllers:path` (cgroup v2: `0::path`). */
export interface CgroupMembership {
  hierarchy: number;
  /** v1 controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`); empty for v2. */
  controllers: string[];
  /** Path of the cgroup, relative to the reader's cgroup namespace root. */
  path: string;
}

/** A mounted cgroup hierarchy, from /proc/self/mountinfo. */
export interface CgroupMount {
  version: 1 | 2;
  /** The cgroup the mount shows at its mount point (mountinfo field 4). */
  root: string;
  mountPoint: string;
  /** Super options; for v1 they name the hierarchy's controllers. */
  options: string[];
}

/** Parses /proc/PID/cgroup. Pure. */
export function parseProcCgroup(content: string): CgroupMembership[] {
  const memberships: CgroupMembership[] = [];
  for (const line of content.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    const hierarchy = Number(line.slice(0, first));
    const path = line.slice(second + 1);
    if (!Number.isSafeInteger(hierarchy) || !path.startsWith("/")) continue;
    const controllers = line.slice(first + 1, second).split(",").filter((name) => name.length > 0);
    memberships.push({ hierarchy, controllers, path });
  }
  return memberships;
}

/** The cgroup mounts of a mountinfo file (`id parent dev root mountpoint opts [optional...] - fstype source superopts`). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    const fsType = fields[dash + 1];
    const root = fields[3];
    const mountPoint = fields[4];
    if (dash < 6 || root === undefined || mountPoint === undefined) continue;
    if (fsType !== "cgroup" && fsType !== "cgroup2") continue;
    mounts.push({
      version: fsType === "cgroup2" ? 2 : 1,
      root: unescapeMountPath(root),
      mountPoint: unescapeMountPath(mountPoint),
      options: (fields[dash + 3] ?? "").split(","),
    });
  }
  return mounts;
}

/**
 * The cgroup.procs files a process joins to enter the same cgroups as the one with `memberships`, one per
 * hierarchy that is mounted here. A cgroup is reachable through a mount when the mount shows it or an ancestor
 * (its root is a prefix of the path); paths with `..` lie outside the reader's cgroup namespace and never are.
 */
export function cgroupProcsFiles(memberships: CgroupMembership[], mounts: CgroupMount[]): string[] {
  const files: string[] = [];
  for (const membership of memberships) {
    if (membership.path.split("/").includes("..")) continue;
    const v2 = membership.hierarchy === 0 && membership.controllers.length === 0;
    if (!v2 && membership.controllers.length === 0) continue;
    for (const mount of mounts) {
      if (v2 ? mount.version !== 2 : mount.version !== 1) continue;
      if (!v2 && !membership.controllers.every((controller) => mount.options.includes(controller))) continue;
      const relative = relativeTo(mount.root, membership.path);
      if (relative === undefined) continue;
      files.push(posix.join(mount.mountPoint, relative, "cgroup.procs"));
      break;
    }
  }
  return files;
}

/** The path of cgroup `path` below a mount showing cgroup `root`, or undefined when the mount does not show it. */
export function relativeTo(root: string, path: string): string | undefined {
  if (root === "/") return path;
  if (path === root) return "/";
  return path.startsWith(`${root}/`) ? path.slice(root.length) : undefined;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}
