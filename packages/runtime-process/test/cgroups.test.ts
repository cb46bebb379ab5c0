import { describe, expect, it } from "vitest";
import { limitSettings, taskCgroupDirs } from "../src/index.js";

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
