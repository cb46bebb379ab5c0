// A container start cut off by the executor's death, against a real containerd: whatever moment the executor
// dies at, the task's command runs once (or, when that cannot be known, the task ends StartError), never twice.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskStartCancelledError } from "@org/task-core";
import { containerConfig, CriClient, EXECUTOR_LABEL, sandboxConfig, TASK_LABEL, type CriRuntime } from "../src/index.js";
import { Files, writeStartIntent } from "../src/files.js";
import { newExecutorId, newRuntime, newTask, removeTestDirs, skipReason, startContainerd, testDir, waitUntil, type ContainerdEnv } from "./cri-helpers.js";

const DIST_INDEX = pathToFileURL(join(import.meta.dirname, "../dist/index.js")).href;

/** An executor in a child process that starts one task and is SIGKILLed `delayMs` after its start intent exists. */
async function startAndKill(env: ContainerdEnv, executorId: string, volumes: Record<string, string>, task: object & { dir: string }, delayMs: number) {
  const code = `
    import { createCriRuntime } from ${JSON.stringify(DIST_INDEX)};
    const { socketPath, executorId, volumes, task } = JSON.parse(process.env.CUTOFF_CHILD);
    const runtime = createCriRuntime({ socketPath, executorId, volumes, graceMs: 1000, maxLogBytes: 0 });
    await runtime.start(task);
    console.log("started");
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    env: { ...process.env, CUTOFF_CHILD: JSON.stringify({ socketPath: env.socketPath, executorId, volumes, task }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await waitUntil(() => existsSync(join(task.dir, Files.startIntent)) || child.exitCode !== null, 30_000, "the start intent");
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  child.kill("SIGKILL");
  await exited;
  return output;
}

describe.skipIf(skipReason)("container runtime on containerd: a start cut off by the executor's death", () => {
  let env: ContainerdEnv;
  let client: CriClient;
  const runtimes: CriRuntime[] = [];

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

  function runtimeFor(executorId: string, volumes: Record<string, string> = {}): CriRuntime {
    const runtime = newRuntime(env, { executorId, volumes });
    runtimes.push(runtime);
    return runtime;
  }

  // 0 ms: usually before the start helper runs or while it connects; later: StartContainer in flight or done.
  for (const delayMs of [0, 40, 120, 400]) {
    it(`the executor killed ${delayMs} ms after the start intent: a restart adopts or starts that container, which runs once`, async () => {
      const executorId = newExecutorId();
      const runsDir = testDir("runs");
      const runs = join(runsDir, "runs.txt");
      writeFileSync(runs, "");
      const task = newTask({ command: ["sh", "-c", "echo ran >> /runs/runs.txt; sleep 0.3; exit 3"], volumeMounts: [{ name: "runs", mountPath: "/runs" }] });
      const output = await startAndKill(env, executorId, { runs: runsDir }, task, delayMs);
      const intent = JSON.parse(readFileSync(join(task.dir, Files.startIntent), "utf8")) as { containerId: string; sandboxId: string };

      const after = runtimeFor(executorId, { runs: runsDir });
      const recovered = await after.recover(task, undefined);
      expect(recovered, output).toMatchObject({ containerId: intent.containerId, sandboxId: intent.sandboxId });
      expect(await after.wait(task, recovered!)).toMatchObject({ exitCode: 3, reason: "Failed" });
      expect(readFileSync(runs, "utf8")).toBe("ran\n");
      expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
      // Once its outcome is recorded, another restart reports it again and starts nothing.
      expect(await after.recover(task, undefined)).toMatchObject({ containerId: intent.containerId });
      expect(await after.wait(task, recovered!)).toMatchObject({ exitCode: 3 });
      expect(readFileSync(runs, "utf8")).toBe("ran\n");
    });
  }

  it("a container whose start failed or was cut off in the runtime is never started again: the task ends StartError", async () => {
    const executorId = newExecutorId();
    const task = newTask({ command: ["/no/such/binary"] });
    // What StartContainer leaves when it fails, or when it is cancelled (its caller died) after runc may already
    // have started the command: an exited container without a start time, reason StartError.
    const podConfig = sandboxConfig(task, executorId, randomUUID());
    const sandboxId = await client.runPodSandbox(podConfig);
    const containerId = await client.createContainer(sandboxId, containerConfig(task, executorId, {}), podConfig);
    await writeStartIntent(task.dir, { sandboxId, containerId });
    await expect(client.startContainer(containerId)).rejects.toThrow();
    const status = await client.containerStatus(containerId);
    expect({ state: status.state, startedAt: String(status.started_at) }).toEqual({ state: "CONTAINER_EXITED", startedAt: "0" });

    const after = runtimeFor(executorId);
    const recovered = await after.recover(task, undefined);
    expect(recovered).toMatchObject({ containerId, sandboxId });
    expect(await after.wait(task, recovered!)).toMatchObject({ reason: "StartError", exitCode: 127 });
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
    await expect(after.start(task)).rejects.toMatchObject({ reason: "StartError", message: expect.stringMatching(/already attempted/) });
  });

  it("a start the runtime refused is reported again after a restart, not retried", async () => {
    const executorId = newExecutorId();
    const task = newTask({ command: ["/no/such/binary"] });
    const before = runtimeFor(executorId);
    await expect(before.start(task)).rejects.toMatchObject({ reason: "StartError", exitCode: 127 });
    // The executor died before it recorded the task's end.
    const after = runtimeFor(executorId);
    const recovered = await after.recover(task, undefined);
    expect(recovered).toBeDefined();
    expect(await after.wait(task, recovered!)).toMatchObject({ reason: "StartError", exitCode: 127 });
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
  });

  it("leftovers of a start cut off before StartContainer (no intent) are removed and the task starts afresh, once", async () => {
    const executorId = newExecutorId();
    const task = newTask({ command: ["sh", "-c", "echo ran; exit 5"] });
    const podConfig = sandboxConfig(task, executorId, randomUUID());
    const sandboxId = await client.runPodSandbox(podConfig);
    await client.createContainer(sandboxId, containerConfig(task, executorId, {}), podConfig);

    const after = runtimeFor(executorId);
    expect(await after.recover(task, undefined)).toBeUndefined();
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
    const handle = await after.start(task);
    expect(await after.wait(task, handle)).toMatchObject({ exitCode: 5, reason: "Failed" });
  });

  describe("a stop while the container starts", () => {
    it("given up before anything was sent that could run the command: nothing runs, nothing is left", async () => {
      const executorId = newExecutorId();
      const runtime = runtimeFor(executorId);
      const early = newTask({ command: ["sh", "-c", "echo ran; exit 0"] });
      const aborted = new AbortController();
      aborted.abort();
      await expect(runtime.start(early, { signal: aborted.signal })).rejects.toBeInstanceOf(TaskStartCancelledError);
      // Aborted just after the call, before its first step finished (its intent check): caught by the same check.
      // An abort during the image pull itself is not exercised: there is no registry here to pull slowly from.
      const later = newTask({ command: ["sh", "-c", "echo ran; exit 0"] });
      const controller = new AbortController();
      const starting = runtime.start(later, { signal: controller.signal });
      controller.abort();
      await expect(starting).rejects.toBeInstanceOf(TaskStartCancelledError);
      expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
      expect(existsSync(join(later.dir, "container.log"))).toBe(false);
      expect(existsSync(join(later.dir, Files.startIntent))).toBe(false);
    });

    it("given up once its sandbox exists: cancelled with nothing left, or (too late) started once and then stoppable", async () => {
      const executorId = newExecutorId();
      const runsDir = testDir("runs");
      const runs = join(runsDir, "runs.txt");
      writeFileSync(runs, "");
      const runtime = runtimeFor(executorId, { runs: runsDir });
      const task = newTask({ command: ["sh", "-c", "echo ran >> /runs/runs.txt; sleep 30"], volumeMounts: [{ name: "runs", mountPath: "/runs" }] });
      const controller = new AbortController();
      const starting = runtime.start(task, { signal: controller.signal });
      starting.catch(() => undefined);
      await waitUntil(async () => (await client.listPodSandbox({ [TASK_LABEL]: task.name })).length > 0, 30_000, "the sandbox");
      controller.abort();
      const outcome = await starting.then(
        (handle) => ({ handle }),
        (error: unknown) => ({ error }),
      );
      if ("error" in outcome) {
        expect(outcome.error).toBeInstanceOf(TaskStartCancelledError);
        expect(readFileSync(runs, "utf8")).toBe("");
      } else {
        const started = Date.now();
        await runtime.stop(task, outcome.handle, 0);
        expect(await runtime.wait(task, outcome.handle)).toMatchObject({ exitCode: 137 });
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(["", "ran\n"]).toContain(readFileSync(runs, "utf8"));
      }
      expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
    });
  });
});
