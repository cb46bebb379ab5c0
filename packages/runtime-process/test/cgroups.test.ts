import { describe, expect, it } from "vitest";
import { limitSettings, parseCgroupMounts, parseProcCgroup, taskCgroupDirs } from "../src/index.js";

const MOUNTINFO = `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 30 0:31 /kubepods /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

describe("cgroup discovery parsing", () => {
  it("finds cgroup mounts with their roots and controllers", () => {
    const mounts = parseCgroupMounts(MOUNTINFO);
    expect(mounts.map((mount) => [mount.mountPoint, mount.fsType, mount.root])).toEqual([
      ["/sys/fs/cgroup/cpu", "cgroup", "/"],
      ["/sys/fs/cgroup/memory", "cgroup", "/kubepods"],
      ["/sys/fs/cgroup/unified", "cgroup2", "/"],
    ]);
    expect(mounts[1]!.superOptions).toContain("memory");
  });

  it("maps controllers to paths, with the v2 path under the empty name", () => {
    const paths = parseProcCgroup("9:name=systemd:/\n4:memory:/pod/a\n2:cpu,cpuacct:/pod/b\n0::/unified/c\n");
    expect(paths.get("memory")).toBe("/pod/a");
    expect(paths.get("cpu")).toBe("/pod/b");
    expect(paths.get("cpuacct")).toBe("/pod/b");
    expect(paths.get("")).toBe("/unified/c");
  });
});

describe("limitSettings", () => {
  it.each([
    ["v1", { memory: "64Mi" }, [["memory", "memory.limit_in_bytes", "67108864"]]],
    ["v1", { cpu: "500m" }, [["cpu", "cpu.cfs_period_us", "100000"], ["cpu", "cpu.cfs_quota_us", "50000"]]],
    ["v1", { pids: 10 }, [["pids", "pids.max", "10"]]],
    ["v2", { memory: "1Gi" }, [["memory", "memory.max", "1073741824"], ["memory", "memory.swap.max", "0"]]],
    ["v2", { cpu: "2" }, [["cpu", "cpu.max", "200000 100000"]]],
    ["v2", { cpu: "1m" }, [["cpu", "cpu.max", "1000 100000"]]],
    ["v2", {}, []],
  ] as const)("%s %j", (version, limits, expected) => {
    expect(limitSettings(version, limits).map((setting) => [setting.controller, setting.file, setting.value])).toEqual(expected);
  });

  it("gives each run its own cgroup per hierarchy", () => {
    const v1 = taskCgroupDirs({ version: "v1", parents: { memory: "/m/te", cpu: "/c/te", pids: "/p/te" } }, "r1");
    expect(v1).toEqual({ memory: "/m/te/task-r1", cpu: "/c/te/task-r1", pids: "/p/te/task-r1" });
    expect(taskCgroupDirs({ version: "v2", parent: "/u/te" }, "r2").memory).toBe("/u/te/task-r2");
  });
});
