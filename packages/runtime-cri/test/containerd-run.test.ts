// The container runtime against a real containerd: running, output, spec mapping, limits, timeout, stop, images.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TaskStartError } from "@org/task-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCriRuntime, CriClient, EXECUTOR_LABEL, type CriRuntime } from "../src/index.js";
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
  testDir,
  type ContainerdEnv,
} from "./cri-helpers.js";

describe.skipIf(skipReason)("container runtime on containerd: running tasks", () => {
  let env: ContainerdEnv;
  let runtime: CriRuntime;
  let client: CriClient;
  const executorId = newExecutorId();
  let hostDir: string;

  beforeAll(async () => {
    env = await startContainerd();
    hostDir = testDir("volume");
    runtime = newRuntime(env, { executorId, volumes: { data: hostDir } });
    client = new CriClient(env.socketPath);
  });
  afterAll(async () => {
    await runtime?.close();
    client?.close();
    await env?.stop();
    removeTestDirs();
  });

  async function run(container: Parameters<typeof newTask>[0]) {
    const task = newTask(container);
    const handle = await runtime.start(task);
    const result = await runtime.wait(task, handle);
    return { task, handle, result };
  }

  it("answers the start-up check, and names the socket when nothing answers", async () => {
    const info = await checkCriRuntime(env.socketPath);
    expect(info.runtimeName).toBe("containerd");
    expect(info.runtimeVersion).not.toBe("");
    const started = Date.now();
    await expect(checkCriRuntime("/tmp/no-such-dir/cri.sock", 2000)).rejects.toThrow(/\/tmp\/no-such-dir\/cri\.sock/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("runs busybox echo to success, with the output in container.log in CRI format, and cleans up", async () => {
    const { task, handle, result } = await run({ command: ["sh", "-c", "echo hello; echo oops >&2; echo pid=$$"] });
    expect(result).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect(Date.parse(result.startedAt ?? "")).toBeLessThanOrEqual(Date.parse(result.finishedAt));
    expect(handle).toMatchObject({ runtime: "container", sandboxId: expect.any(String), containerId: expect.any(String) });
    expect(JSON.parse(JSON.stringify(handle))).toEqual(handle);

    const [logFile] = runtime.logFiles(task);
    expect(logFile).toEqual({ path: join(task.dir, "container.log"), rotatedPath: join(task.dir, "container.log.1"), stream: "combined" });
    const records = readCriLog(join(task.dir, "container.log"));
    expect(records.map((r) => [r.stream, r.tag, r.text])).toEqual(
      expect.arrayContaining([["stdout", "F", "hello"], ["stderr", "F", "oops"]]),
    );
    for (const r of records) expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    // The pod shares its PID namespace: the task's process is not PID 1.
    expect(stdoutLines(task).find((l) => l.startsWith("pid="))).not.toBe("pid=1");

    // A finished task holds nothing in the runtime.
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
    expect(await client.listContainers({ labelSelector: { [EXECUTOR_LABEL]: executorId } })).toEqual([]);
    expect(await runtime.inspect(task, handle)).toEqual({ phase: "exited", result });
  });

  it("reports exit code 3 as Failed/3", async () => {
    const { result } = await run({ command: ["sh", "-c", "exit 3"] });
    expect(result).toMatchObject({ exitCode: 3, reason: "Failed" });
  });

  it("maps command, args, env and workingDir", async () => {
    const { task, result } = await run({
      command: ["sh", "-c"],
      args: ['echo "foo=$FOO"; echo "empty=[$EMPTY]"; pwd; echo "$0 $1"', "zero", "one"],
      env: [{ name: "FOO", value: "bar baz" }, { name: "EMPTY", value: "" }],
      workingDir: "/work/dir",
    });
    expect(result.reason).toBe("Succeeded");
    expect(stdoutLines(task)).toEqual(["foo=bar baz", "empty=[]", "/work/dir", "zero one"]);
  });

  it("uses the image's default command when none is given", async () => {
    const { result } = await run({});
    expect(result).toMatchObject({ exitCode: 0, reason: "Succeeded" });
  });

  it("mounts a configured volume read-write", async () => {
    const { result } = await run({
      command: ["sh", "-c", "echo written-inside > /data/out.txt"],
      volumeMounts: [{ name: "data", mountPath: "/data" }],
    });
    expect(result.reason).toBe("Succeeded");
    expect(readFileSync(join(hostDir, "out.txt"), "utf8")).toBe("written-inside\n");
  });

  it("honours readOnly mounts", async () => {
    const { task, result } = await run({
      command: ["sh", "-c", "cat /data/out.txt; echo nope > /data/ro.txt"],
      volumeMounts: [{ name: "data", mountPath: "/data", readOnly: true }],
    });
    expect(result.reason).toBe("Failed");
    expect(existsSync(join(hostDir, "ro.txt"))).toBe(false);
    expect(readCriLog(join(task.dir, "container.log")).map((r) => r.text).join("\n")).toMatch(/Read-only file system/);
  });

  it("refuses unknown volumes at start", async () => {
    const task = newTask({ command: ["true"], volumeMounts: [{ name: "nope", mountPath: "/x" }] });
    await expect(runtime.start(task)).rejects.toMatchObject({ reason: "StartError", message: expect.stringMatching(/nope/) });
  });

  it("applies cpu and memory limits", async () => {
    const { task, result } = await run({
      command: [
        "sh",
        "-c",
        "if [ -f /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max; " +
          "else cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes; fi",
      ],
      resources: { limits: { cpu: "500m", memory: "64Mi" } },
    });
    expect(result.reason).toBe("Succeeded");
    const out = stdoutLines(task).join(" ");
    expect(out).toMatch(/^50000 100000 67108864$/);
  });

  it("ends a container killed for memory OOMKilled", async () => {
    const { result } = await run({
      command: ["sh", "-c", "head -c 64m /dev/zero | tail"],
      resources: { limits: { memory: "16Mi" } },
    });
    expect(result).toMatchObject({ reason: "OOMKilled", exitCode: 137 });
  });

  it("ends a task past its timeout TaskTimeout/137, counting from the container's start", async () => {
    const started = Date.now();
    const { result } = await run({ command: ["sleep", "30"], timeoutSeconds: 1 });
    expect(result).toMatchObject({ reason: "TaskTimeout", exitCode: 137 });
    expect(result.message).toMatch(/timeout of 1s/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("stops a task with the grace period, then removes its sandbox", async () => {
    const task = newTask({ command: ["sleep", "30"] });
    const handle = await runtime.start(task);
    expect(await runtime.inspect(task, handle)).toMatchObject({ phase: "running" });
    const waiting = runtime.wait(task, handle);
    await runtime.stop(task, handle, 1000);
    const result = await waiting;
    expect(result).toMatchObject({ exitCode: 143, reason: "Failed" });
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
  });

  it("reports the exit code a stopped container chooses", async () => {
    const task = newTask({ command: ["sh", "-c", 'trap "echo bye; exit 7" TERM; echo ready; while true; do sleep 0.1; done'] });
    const handle = await runtime.start(task);
    // The trap is set once "ready" is printed; a stop before that would end the shell by SIGTERM.
    await waitUntil(() => existsSync(join(task.dir, "container.log")) && stdoutLines(task).includes("ready"), 20_000, '"ready" in the container log');
    await runtime.stop(task, handle, 5000);
    const result = await runtime.wait(task, handle);
    expect(result).toMatchObject({ exitCode: 7, reason: "Failed" });
    expect(stdoutLines(task)).toEqual(["ready", "bye"]);
  });

  it("ends a task whose image cannot be pulled ErrImagePull, quickly and with the image named", async () => {
    const started = Date.now();
    const task = newTask({ image: "localhost/does-not-exist:1" });
    const error = await runtime.start(task).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TaskStartError);
    expect(error).toMatchObject({ reason: "ErrImagePull", exitCode: 1 });
    expect((error as Error).message).toMatch(/localhost\/does-not-exist:1/);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);

    const never = newTask({ image: "localhost/also-missing:1", imagePullPolicy: "Never" });
    await expect(runtime.start(never)).rejects.toMatchObject({ reason: "ErrImagePull", message: expect.stringMatching(/also-missing.*Never/) });
  });

  it("ends a task whose command does not exist StartError/127", async () => {
    const task = newTask({ command: ["/no/such/program"] });
    await expect(runtime.start(task)).rejects.toMatchObject({ reason: "StartError", exitCode: 127 });
    expect(await client.listPodSandbox({ [EXECUTOR_LABEL]: executorId })).toEqual([]);
  });
});
