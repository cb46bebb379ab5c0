// The container runtime against a real containerd: executor restarts, vanished containers, garbage collection,
// log capping and destroy.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RuntimeHandle } from "@org/task-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CriClient, EXECUTOR_LABEL, TASK_LABEL, type CriRuntime } from "../src/index.js";
import {
  newExecutorId,
  newRuntime,
  newTask,
  readCriLog,
  removeTestDirs,
  skipReason,
  startContainerd,
  stdoutLines,
  waitUntil,
  type ContainerdEnv,
} from "./cri-helpers.js";

/** What the executor persists and reads back. */
function persisted(handle: RuntimeHandle): RuntimeHandle {
  return JSON.parse(JSON.stringify(handle)) as RuntimeHandle;
}

describe.skipIf(skipReason)("container runtime on containerd: lifecycle", () => {
  let env: ContainerdEnv;
  let client: CriClient;
  const runtimes: CriRuntime[] = [];

  function runtimeFor(executorId: string, options: Parameters<typeof newRuntime>[1] = {}): CriRuntime {
    const runtime = newRuntime(env, { executorId, ...options });
    runtimes.push(runtime);
    return runtime;
  }

  async function sandboxesOf(executorId: string) {
    return client.listPodSandbox({ [EXECUTOR_LABEL]: executorId });
  }

  beforeAll(async () => {
    env = await startContainerd();
    client = new CriClient(env.socketPath);
  });
  afterAll(async () => {
    for (const runtime of runtimes) await runtime.close();
    client?.close();
    await env?.stop();
    removeTestDirs();
  });

  it("recovers a running task after a restart and reports its true exit", async () => {
    const executorId = newExecutorId();
    const before = runtimeFor(executorId);
    const task = newTask({ command: ["sh", "-c", "echo started; sleep 2; echo finishing; exit 5"] });
    const handle = persisted(await before.start(task));
    await before.close();

    const after = runtimeFor(executorId);
    const recovered = await after.recover(task, handle);
    expect(recovered).toMatchObject({ containerId: handle.containerId, sandboxId: handle.sandboxId, startedAt: handle.startedAt });
    expect(await after.inspect(task, recovered!)).toMatchObject({ phase: "running", startedAt: handle.startedAt });
    const result = await after.wait(task, recovered!);
    expect(result).toMatchObject({ exitCode: 5, reason: "Failed", startedAt: handle.startedAt });
    expect(stdoutLines(task)).toEqual(["started", "finishing"]);
    expect(await sandboxesOf(executorId)).toEqual([]);
  });

  it("collects the exit of a task that ended while the executor was down", async () => {
    const executorId = newExecutorId();
    const before = runtimeFor(executorId);
    const task = newTask({ command: ["sh", "-c", "exit 4"] });
    const handle = persisted(await before.start(task));
    await before.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const after = runtimeFor(executorId);
    const recovered = await after.recover(task, handle);
    expect(await after.wait(task, recovered!)).toMatchObject({ exitCode: 4, reason: "Failed" });
    // The outcome is recorded: asking again (even after another restart) gives the same answer.
    const again = runtimeFor(executorId);
    expect(await again.recover(task, handle)).toEqual(handle);
    expect(await again.wait(task, handle)).toMatchObject({ exitCode: 4, reason: "Failed" });
  });

  it("keeps counting a timeout from the recorded start across a restart", async () => {
    const executorId = newExecutorId();
    const before = runtimeFor(executorId);
    const task = newTask({ command: ["sleep", "60"], timeoutSeconds: 2 });
    const handle = persisted(await before.start(task));
    await before.close();
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const started = Date.now();
    const after = runtimeFor(executorId);
    const result = await after.wait(task, (await after.recover(task, handle))!);
    expect(result).toMatchObject({ reason: "TaskTimeout", exitCode: 137 });
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it("adopts a task started but not persisted (no handle) by its labels", async () => {
    const executorId = newExecutorId();
    const before = runtimeFor(executorId);
    const task = newTask({ command: ["sh", "-c", "sleep 1; exit 2"] });
    const handle = await before.start(task);
    await before.close();

    const after = runtimeFor(executorId);
    const adopted = await after.recover(task, undefined);
    expect(adopted).toMatchObject({ runtime: "container", containerId: handle.containerId, sandboxId: handle.sandboxId });
    expect(await after.wait(task, adopted!)).toMatchObject({ exitCode: 2, reason: "Failed" });
    // Nothing left: a second recovery finds no trace and asks for a fresh start.
    expect(await after.recover(newTask({}, task.name), undefined)).toBeUndefined();
  });

  it("reports a container that vanished as ContainerMissing, not silently", async () => {
    const executorId = newExecutorId();
    const before = runtimeFor(executorId);
    const task = newTask({ command: ["sleep", "60"] });
    const handle = persisted(await before.start(task));
    await before.close();
    // Someone removes the container and its sandbox behind the executor's back.
    await client.stopPodSandbox(handle.sandboxId as string);
    await client.removePodSandbox(handle.sandboxId as string);

    const after = runtimeFor(executorId);
    const recovered = await after.recover(task, handle);
    expect(recovered).toBeDefined();
    const observation = await after.inspect(task, recovered!);
    expect(observation).toMatchObject({ phase: "missing", message: expect.stringContaining(handle.containerId as string) });
    const result = await after.wait(task, recovered!);
    expect(result).toMatchObject({ reason: "ContainerMissing", message: expect.stringMatching(/no longer exists/) });
  });

  it("collects garbage: removes only this executor's sandboxes of tasks that are not live", async () => {
    const mine = newExecutorId();
    const other = newExecutorId();
    const runtime = runtimeFor(mine);
    const otherRuntime = runtimeFor(other);
    const live = newTask({ command: ["sleep", "60"] });
    const dead = newTask({ command: ["sleep", "60"] });
    const foreign = newTask({ command: ["sleep", "60"] }, dead.name);
    const liveHandle = await runtime.start(live);
    const deadHandle = await runtime.start(dead);
    const foreignHandle = await otherRuntime.start(foreign);

    const removed = await runtime.collectGarbage(new Set([live.name]));
    expect(removed).toEqual([deadHandle.sandboxId]);
    expect((await sandboxesOf(mine)).map((s) => s.id)).toEqual([liveHandle.sandboxId]);
    expect((await sandboxesOf(other)).map((s) => [s.id, s.labels[TASK_LABEL]])).toEqual([[foreignHandle.sandboxId, dead.name]]);

    await runtime.destroy(live, liveHandle);
    await otherRuntime.destroy(foreign, foreignHandle);
    expect(await sandboxesOf(mine)).toEqual([]);
    expect(await sandboxesOf(other)).toEqual([]);
  });

  it("destroy ends a running task and removes its container and sandbox", async () => {
    const executorId = newExecutorId();
    const runtime = runtimeFor(executorId);
    const task = newTask({ command: ["sleep", "60"] });
    const handle = await runtime.start(task);
    const waiting = runtime.wait(task, handle);
    await runtime.destroy(task, handle);
    expect(await waiting).toMatchObject({ exitCode: 137 });
    expect(await sandboxesOf(executorId)).toEqual([]);
    await runtime.destroy(task, handle); // idempotent
  });

  it("caps the log: rotates into container.log.1 and marks dropped output", async () => {
    const executorId = newExecutorId();
    const runtime = runtimeFor(executorId, { maxLogBytes: 4096 });
    const line = "x".repeat(100);
    const task = newTask({ command: ["sh", "-c", `i=0; while [ $i -lt 150 ]; do echo "$i ${line}"; i=$((i+1)); sleep 0.02; done`] });
    const handle = await runtime.start(task);
    const result = await runtime.wait(task, handle);
    expect(result).toMatchObject({ exitCode: 0, reason: "Succeeded", logTruncated: true });
    expect(existsSync(join(task.dir, "log-truncated"))).toBe(true);
    const current = readCriLog(join(task.dir, "container.log"));
    const rotated = readCriLog(join(task.dir, "container.log.1"));
    expect(rotated.length).toBeGreaterThan(0);
    // Checked about once a second: a file may overshoot half the cap by a second's output (~50 lines here).
    expect(statSync(join(task.dir, "container.log.1")).size).toBeLessThan(4096 / 2 + 60 * 150);
    const numbers = [...rotated, ...current].map((r) => Number(r.text.split(" ")[0]));
    expect(numbers.at(-1)).toBe(149);
    expect(numbers[0]).toBeGreaterThan(0); // the oldest output was dropped
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBe((numbers[i - 1] ?? 0) + 1);
  });

  it("does not leave sandboxes behind after all of the above", async () => {
    await waitUntil(async () => (await client.listPodSandbox({})).length === 0, 10_000, "no sandboxes");
  });
});
