// Sidecar mode with resource limits: the task's own cgroups go below the main container's, so the container's limits
// still bound it (real main container, real cgroup v1 hierarchies of this machine).
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { detectCgroups, type CgroupSupport, type ProcessHandle } from "@org/runtime-process";
import type { Logger, TaskRuntime } from "@org/task-core";
import { namespaceSupport, realEnvironmentRequired, startMainContainer, type MainContainerFixture } from "@org/testkit";
import { createSidecarRuntime } from "../src/runtime.js";
import { logText, loudSkip, newTask, sleep } from "./helpers.js";

const unsupported = await namespaceSupport();
const cgroups = await detectCgroups();
const v1 = cgroups?.version === "v1" ? (cgroups as Extract<CgroupSupport, { version: "v1" }>) : undefined;
const reason = unsupported ?? (v1?.mountPoints ? undefined : "no cgroup v1 hierarchies of memory, cpu and pids are usable here");
// With REQUIRE_REAL_ENV=1 (CI) the suite runs regardless and fails where the machine cannot give it what it needs.
const skip = reason !== undefined && !realEnvironmentRequired();
if (skip) loudSkip("sidecar cgroup nesting tests", reason!);

/** The cgroup path of each v1 controller in a /proc/PID/cgroup text. */
function pathsByController(text: string): Record<string, string> {
  const paths: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    for (const controller of controllers ? controllers.split(",") : []) paths[controller] = path!;
  }
  return paths;
}

describe.skipIf(skip)("sidecar runtime: a limited task's cgroups nest in the main container's", () => {
  const name = `main-${randomBytes(4).toString("hex")}`;
  const podCgroup = `sidecar-pod-${randomBytes(4).toString("hex")}`;
  let podPidsDir = "";
  let fixture: MainContainerFixture;
  let runtime: TaskRuntime;
  const warnings: string[] = [];

  beforeAll(async () => {
    fixture = await startMainContainer({ name });
    // The main container gets a pids cgroup of its own with a small limit, as a pod's container would.
    podPidsDir = join(v1!.mountPoints!.pids, podCgroup);
    await mkdir(podPidsDir);
    await writeFile(join(podPidsDir, "pids.max"), "30");
    await writeFile(join(podPidsDir, "cgroup.procs"), String(fixture.pid));
    const logger: Logger = { error: (m) => void warnings.push(m), warn: (m) => void warnings.push(m), info: () => undefined, debug: () => undefined };
    runtime = createSidecarRuntime({ mainContainerName: name, graceMs: 1000, maxLogBytes: 0, logger, cgroups: v1! });
  }, 30_000);

  afterAll(async () => {
    await runtime?.close();
    await fixture?.stop();
    for (let attempt = 0; podPidsDir && attempt < 50; attempt++) {
      if (await rmdir(podPidsDir).then(() => true, () => false)) break;
      await sleep(100);
    }
  });

  it("the task's memory, cpu and pids cgroups are below the main container's, and the container's pids limit applies", { timeout: 60_000 }, async () => {
    const main = pathsByController(await readFile(`/proc/${fixture.pid}/cgroup`, "utf8"));
    expect(main.pids).toBe(`/${podCgroup}`);
    const task = await newTask("limited", {
      // Its own limit allows 1000 processes; the container's 30 must still stop it.
      command: ["sh", "-c", "cat /proc/self/cgroup; i=0; while [ $i -lt 60 ]; do sleep 5 & i=$((i+1)); done; echo spawned; wait"],
      resources: { limits: { pids: 1000, memory: "256Mi" } },
    });
    const handle = (await runtime.start(task)) as ProcessHandle;
    const result = await runtime.wait(task, handle);
    const stdout = await logText(task);
    const stderr = await logText(task, "stderr.log");
    const inside = pathsByController(stdout);
    for (const controller of ["memory", "cpu", "pids"]) {
      expect(inside[controller], `${controller} cgroup of the task`).toBe(`${main[controller] === "/" ? "" : main[controller]}/task-${handle.runId}`);
    }
    // Hierarchical limit: forks past the container's 30 processes fail inside the task.
    expect(stderr).toMatch(/fork|Resource temporarily unavailable/i);
    expect(result.reason).not.toBe("StartError");
    // The task's cgroups are gone once it ended.
    for (const dir of handle.cgroupDirs ?? []) expect(await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => "gone")).toBe("gone");
  });
});
