import { describe, expect, it } from "vitest";
import { mainContainerNotFoundMessage, sidecarArgv, sidecarEnv } from "../src/launch.js";

const tools = { nsenter: "/usr/bin/nsenter", unshare: "/usr/bin/unshare" };

describe("sidecarArgv", () => {
  it("enters the PID namespace for unshare's child, then the rest, and runs the command as the container user", () => {
    expect(sidecarArgv(tools, { pid: 42, uid: 1000, gid: 2000 }, undefined, ["ls", "-l", "/proc/self/ns"])).toEqual([
      "/usr/bin/nsenter", "--target", "42", "--pid", "--no-fork", "--",
      "/usr/bin/unshare", "--fork", "--",
      "/usr/bin/nsenter", "--target", "42", "--mount", "--uts", "--ipc", "--net", "--root", "--wd",
      "--setgid", "2000", "--setuid", "1000", "--no-fork", "--",
      "ls", "-l", "/proc/self/ns",
    ]);
  });

  it.each([
    ["the main process's working directory by default", undefined, "--wd"],
    ["a workingDir inside the container", "/srv/app dir", "--wdns=/srv/app dir"],
  ])("uses %s", (_, workingDir, option) => {
    const argv = sidecarArgv(tools, { pid: 1, uid: 0, gid: 0 }, workingDir, ["true"]);
    expect(argv.filter((arg) => arg.startsWith("--wd"))).toEqual([option]);
  });

  it("never lets the command be read as options", () => {
    const argv = sidecarArgv(tools, { pid: 1, uid: 0, gid: 0 }, undefined, ["--help", "x"]);
    expect(argv.slice(-3)).toEqual(["--", "--help", "x"]);
  });
});

describe("sidecarEnv", () => {
  it.each([
    [
      "the container's environment, then the task's, then the marker",
      ["PATH=/app/bin", "HOME=/home/app"],
      [{ name: "MODE", value: "x" }],
      ["PATH=/app/bin", "HOME=/home/app", "MODE=x", "TASK_EXECUTOR_TASK=t1"],
    ],
    [
      "the task wins over the container",
      ["PATH=/app/bin", "LANG=C"],
      [{ name: "LANG", value: "C.UTF-8" }],
      ["PATH=/app/bin", "LANG=C.UTF-8", "TASK_EXECUTOR_TASK=t1"],
    ],
    [
      "the marker wins over everything",
      ["TASK_EXECUTOR_TASK=stale"],
      [{ name: "TASK_EXECUTOR_TASK", value: "forged" }],
      ["TASK_EXECUTOR_TASK=t1"],
    ],
    ["values with '=' and empty values", ["A=b=c"], [{ name: "E", value: "" }], ["A=b=c", "E=", "TASK_EXECUTOR_TASK=t1"]],
  ])("%s", (_, mainEnv, taskEnv, expected) => {
    expect(sidecarEnv(mainEnv, taskEnv, "t1")).toEqual(expected);
  });
});

it("names the variable and shareProcessNamespace when the main container is missing", () => {
  const message = mainContainerNotFoundMessage("app");
  expect(message).toContain("SANDBOX_MAIN_CONTAINER=app");
  expect(message).toContain("shareProcessNamespace: true");
});
