import { readdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realEnvironmentRequired, startExecutor, type ExecutorProcess } from "@org/testkit";
import { detectCgroups, taskCgroupDirs, type CgroupSupport } from "@org/runtime-process";
import { raw, shTask, waitTerminated } from "./helpers.js";

const support = await detectCgroups();
// In CI (REQUIRE_REAL_ENV=1) the suite runs regardless and fails where cgroups are missing.
const skip = !support && !realEnvironmentRequired();
if (skip) console.warn("\n*** resource-limit tests SKIPPED: this machine has no usable cgroups ***\n");

describe.skipIf(skip)("resource limits of process tasks (real cgroups)", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor();
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("a task over its memory limit ends OOMKilled", async () => {
    // `tail` keeps the whole 256 MiB line in memory; the limit is 32 MiB.
    await executor.client.createTask(shTask("oom", "head -c 268435456 /dev/zero | tail -n 1 >/dev/null", { resources: { limits: { memory: "32Mi" } } }));
    const state = await waitTerminated(executor, "oom", 60_000);
    expect(state.reason).toBe("OOMKilled");
    expect(state.exitCode).not.toBe(0);
  });

  it("the same task without a limit succeeds", async () => {
    await executor.client.createTask(shTask("no-oom", "head -c 67108864 /dev/zero | tail -n 1 >/dev/null"));
    expect(await waitTerminated(executor, "no-oom", 60_000)).toMatchObject({ exitCode: 0, reason: "Succeeded" });
  });

  it("applies cpu and pids limits in the task's own cgroup, and removes it when the task ends", async () => {
    await executor.client.createTask(shTask("limited", "cat /proc/self/cgroup; sleep 0.5", { resources: { limits: { cpu: "500m", pids: 64 } } }));
    expect(await waitTerminated(executor, "limited")).toMatchObject({ exitCode: 0 });
    const cgroups = (await executor.client.logs("limited")).toString();
    expect(cgroups).toMatch(/task-executor\/task-/);
    const parent = (support as CgroupSupport).version === "v1" ? (support as Extract<CgroupSupport, { version: "v1" }>).parents.pids : (support as Extract<CgroupSupport, { version: "v2" }>).parent;
    const runId = /task-([0-9a-f-]+)/.exec(cgroups)![1]!;
    const left = await readdir(parent);
    expect(left).not.toContain(`task-${runId}`);
    expect(taskCgroupDirs(support!, runId).pids).toContain(runId);
  });

  it("a pids limit stops a fork bomb from growing past it", async () => {
    await executor.client.createTask(shTask("forks", "for i in $(seq 1 40); do sleep 5 & done; wait", { resources: { limits: { pids: 10 } } }));
    await waitTerminated(executor, "forks", 30_000);
    expect((await executor.client.logs("forks", { stream: "stderr" })).toString()).toMatch(/fork|resource|retry/i);
  });

  it("a task writing past its ephemeral-storage limit ends Evicted", async () => {
    await executor.client.createTask(shTask("disk-hog", "for i in $(seq 1 100); do head -c 1048576 /dev/zero > blob-$i; sleep 0.05; done", { resources: { limits: { "ephemeral-storage": "4Mi" } } }));
    const state = await waitTerminated(executor, "disk-hog", 30_000);
    expect(state.reason).toBe("Evicted");
    expect(state.message).toContain("ephemeral storage");
  });

  it("invalid quantities are 400 naming the field", async () => {
    const reply = await raw(executor, "POST", "/tasks", JSON.stringify(shTask("bad-q", "true", { resources: { limits: { memory: "lots" } } })));
    expect(reply.status).toBe(400);
    expect(String(reply.json?.message)).toContain("spec.process.resources.limits.memory");
  });
});

describe("an executor that cannot use cgroups", () => {
  it("says why at start-up and refuses tasks with resource limits", async () => {
    // In a private mount namespace the executor sees no cgroup hierarchy at all (every cgroup mount is detached).
    const hide = 'for mp in $(awk \'$9 == "cgroup" || $9 == "cgroup2" {print $5}\' /proc/self/mountinfo | sort -r); do umount -l "$mp" || exit 1; done; exec "$@"';
    const executor = await startExecutor({ wrap: ["unshare", "--mount", "--propagation=private", "sh", "-c", hide, "sh"] });
    try {
      const lines = executor.output.flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
      // The detection's own reason, not only the summary that cgroups are unavailable.
      expect(lines.find((line) => line.message === "no usable cgroup hierarchy: tasks with resource limits are refused")).toMatchObject({ level: "info", mounts: expect.any(Number) });
      expect(lines.some((line) => String(line.message).startsWith("cgroups are not available"))).toBe(true);
      const reply = await raw(executor, "POST", "/tasks", JSON.stringify(shTask("limited", "true", { resources: { limits: { memory: "32Mi" } } })));
      expect(reply.status).toBe(400);
    } finally {
      await executor.kill();
    }
  });
});
