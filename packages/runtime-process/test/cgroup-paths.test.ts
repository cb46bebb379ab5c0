import { describe, expect, it } from "vitest";
import { cgroupProcsFiles, parseCgroupMounts, parseProcCgroup } from "../src/index.js";

/** cgroup v1 with the unified hierarchy at /sys/fs/cgroup/unified (hybrid, as on systemd hosts). */
const HYBRID_MOUNTINFO = `21 26 0:20 / /proc rw,relatime - proc proc rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate`;

const HYBRID_CGROUP = `12:pids:/kubepods/pod1/c1
11:cpu,cpuacct:/kubepods/pod1/c1
10:memory:/kubepods/pod1/c1
9:freezer:/kubepods/pod1/c1
1:name=systemd:/kubepods/pod1/c1
0::/kubepods/pod1/c1
`;

/** cgroup v2 only, mounted at /sys/fs/cgroup. */
const V2_MOUNTINFO = `25 1 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`;

describe("parseProcCgroup", () => {
  it.each([
    [
      "v1 and unified lines",
      "11:cpu,cpuacct:/a/b\n1:name=systemd:/\n0::/a/b\n",
      [
        { hierarchy: 11, controllers: ["cpu", "cpuacct"], path: "/a/b" },
        { hierarchy: 1, controllers: ["name=systemd"], path: "/" },
        { hierarchy: 0, controllers: [], path: "/a/b" },
      ],
    ],
    ["v2 only", "0::/kubepods.slice/cri-containerd-1.scope\n", [{ hierarchy: 0, controllers: [], path: "/kubepods.slice/cri-containerd-1.scope" }]],
    ["path with a colon", "0::/a:b\n", [{ hierarchy: 0, controllers: [], path: "/a:b" }]],
    ["outside the cgroup namespace", "0::/../other\n", [{ hierarchy: 0, controllers: [], path: "/../other" }]],
    ["empty (vanished)", "", []],
  ])("%s", (_, content, expected) => {
    expect(parseProcCgroup(content)).toEqual(expected);
  });
});

describe("parseCgroupMounts", () => {
  it("finds v1 hierarchies and the unified mount, and nothing else", () => {
    const mounts = parseCgroupMounts(HYBRID_MOUNTINFO);
    expect(mounts.map((mount) => [mount.version, mount.mountPoint])).toEqual([
      [1, "/sys/fs/cgroup/cpu,cpuacct"],
      [1, "/sys/fs/cgroup/memory"],
      [1, "/sys/fs/cgroup/pids"],
      [1, "/sys/fs/cgroup/systemd"],
      [2, "/sys/fs/cgroup/unified"],
    ]);
    expect(mounts[0]?.options).toEqual(["rw", "cpu", "cpuacct"]);
  });

  it("decodes octal escapes and keeps the mount root", () => {
    const [mount] = parseCgroupMounts("50 1 0:22 /kube\\040pods /mnt/cg\\040x rw - cgroup2 cgroup2 rw");
    expect(mount).toEqual({ version: 2, root: "/kube pods", mountPoint: "/mnt/cg x", options: ["rw"] });
  });
});

describe("cgroupProcsFiles", () => {
  it.each([
    [
      "hybrid: every mounted v1 hierarchy plus the unified one; unmounted freezer is left out",
      HYBRID_CGROUP,
      HYBRID_MOUNTINFO,
      [
        "/sys/fs/cgroup/pids/kubepods/pod1/c1/cgroup.procs",
        "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/c1/cgroup.procs",
        "/sys/fs/cgroup/memory/kubepods/pod1/c1/cgroup.procs",
        "/sys/fs/cgroup/systemd/kubepods/pod1/c1/cgroup.procs",
        "/sys/fs/cgroup/unified/kubepods/pod1/c1/cgroup.procs",
      ],
    ],
    [
      "v2 at /sys/fs/cgroup",
      "0::/kubepods.slice/cri-containerd-1.scope\n",
      V2_MOUNTINFO,
      ["/sys/fs/cgroup/kubepods.slice/cri-containerd-1.scope/cgroup.procs"],
    ],
    ["the root cgroup", "0::/\n", V2_MOUNTINFO, ["/sys/fs/cgroup/cgroup.procs"]],
    [
      "a mount that shows a subtree (mount root is a prefix of the path)",
      "0::/pod/main\n",
      "25 1 0:22 /pod /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
      ["/sys/fs/cgroup/main/cgroup.procs"],
    ],
    [
      "a mount that shows another subtree",
      "0::/pod/main\n",
      "25 1 0:22 /pod/sidecar /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
      [],
    ],
    ["a prefix that is no path boundary", "0::/podx\n", "25 1 0:22 /pod /sys/fs/cgroup rw - cgroup2 cgroup2 rw", []],
    ["outside our cgroup namespace (private cgroupns)", "0::/../main\n", V2_MOUNTINFO, []],
    ["no cgroup mounted", "0::/a\n", "21 26 0:20 / /proc rw,relatime - proc proc rw", []],
    ["v1 line but only v2 mounted", "4:memory:/a\n", V2_MOUNTINFO, []],
  ])("%s", (_, cgroup, mountinfo, expected) => {
    expect(cgroupProcsFiles(parseProcCgroup(cgroup), parseCgroupMounts(mountinfo))).toEqual(expected);
  });
});
