import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXECUTOR_VERSION } from "../../src/version.js";
import {
  announceSkip,
  BUSYBOX_IMAGE,
  containerdSkipReason,
  startContainerd,
  startExecutor,
  waitFor,
  type ContainerdEnv,
  type ExecutorProcess,
} from "@org/testkit";
import { raw, waitTerminated } from "./helpers.js";

const skip = containerdSkipReason();
if (skip) announceSkip(skip, "executor container-mode tests");

function busybox(name: string, script: string, extra: Record<string, unknown> = {}) {
  return { name, spec: { container: { image: BUSYBOX_IMAGE, command: ["sh", "-c"], args: [script], ...extra } } };
}

describe.skipIf(skip)("container mode through the real executor and a real containerd", () => {
  let containerd: ContainerdEnv;
  let executor: ExecutorProcess;
  let volume: string;
  beforeAll(async () => {
    containerd = await startContainerd();
    volume = await mkdtemp(join(tmpdir(), "volume-"));
    executor = await startExecutor({
      args: ["--enable-container-mode=true", `--cri-socket=${containerd.socketPath}`, `--volume=data=${volume}`, "--stop-grace-period=2s"],
    });
  }, 300_000);
  afterAll(async () => {
    await executor?.kill();
    await containerd?.stop();
  });

  it("/health reports both modes", async () => {
    expect(await executor.client.health()).toEqual({ status: "healthy", auth: "disabled", modes: ["process", "container"], sidecar: false, version: EXECUTOR_VERSION });
  });

  it("a busybox echo succeeds and its output comes back through the logs API", async () => {
    await executor.client.createTask(busybox("hello", "echo hello from a container; echo oops >&2"));
    expect(await waitTerminated(executor, "hello", 60_000)).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    // containerd copies stdout and stderr separately, so their order relative to each other is its own.
    expect((await executor.client.logs("hello", { stream: "stdout" })).toString()).toBe("hello from a container\n");
    expect((await executor.client.logs("hello", { stream: "stderr" })).toString()).toBe("oops\n");
    expect((await executor.client.logs("hello")).toString().split("\n").sort()).toEqual(["", "hello from a container", "oops"]);
  });

  it("a task named as a Go controller names it (over 255 characters) runs as a container, with its logs", async () => {
    const name = `${"o".repeat(253)}-12`;
    await executor.client.createTask(busybox(name, "echo long name"));
    expect(await waitTerminated(executor, name, 60_000)).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    expect((await executor.client.logs(name)).toString()).toBe("long name\n");
  });

  it("exit code 3 is Failed with exit code 3", async () => {
    await executor.client.createTask(busybox("three", "exit 3"));
    expect(await waitTerminated(executor, "three", 60_000)).toMatchObject({ exitCode: 3, reason: "Failed" });
  });

  it("maps env and workingDir, and a volume mount writes to the host directory", async () => {
    await executor.client.createTask(
      busybox("mapped", 'echo "$GREETING"; pwd; echo written > /data/out.txt', {
        env: [{ name: "GREETING", value: "hi" }],
        workingDir: "/tmp",
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      }),
    );
    expect(await waitTerminated(executor, "mapped", 60_000)).toMatchObject({ exitCode: 0 });
    expect((await executor.client.logs("mapped")).toString()).toBe("hi\n/tmp\n");
    expect(await readFile(join(volume, "out.txt"), "utf8")).toBe("written\n");
  });

  it("an unknown volume is a 400 at create time", async () => {
    const reply = await raw(executor, "POST", "/tasks", JSON.stringify(busybox("bad-vol", "true", { volumeMounts: [{ name: "etc", mountPath: "/x" }] })));
    expect(reply.status).toBe(400);
    expect(String(reply.json?.message)).toContain("unknown volume 'etc'");
  });

  it("a memory limit below what the task needs ends OOMKilled", async () => {
    await executor.client.createTask(busybox("oom", "head -c 268435456 /dev/zero | tail -n 1 > /dev/null", { resources: { limits: { memory: "32Mi" } } }));
    expect(await waitTerminated(executor, "oom", 60_000)).toMatchObject({ reason: "OOMKilled" });
  });

  it("timeoutSeconds ends the task TaskTimeout with exit code 137, and stop cancels a running container", async () => {
    await executor.client.createTask(busybox("slow", "sleep 60", { timeoutSeconds: 2 }));
    await executor.client.createTask(busybox("cancel-me", "echo up; sleep 60"));
    await waitFor(async () => (await executor.client.logs("cancel-me")).toString() === "up\n", 60_000);
    await executor.client.stopTask("cancel-me");
    expect(await waitTerminated(executor, "cancel-me", 60_000)).toMatchObject({ reason: "Cancelled" });
    expect(await waitTerminated(executor, "slow", 60_000)).toMatchObject({ reason: "TaskTimeout", exitCode: 137 });
  });

  it("an unknown image ends terminated ErrImagePull with a clear message, without hanging", async () => {
    await executor.client.createTask({ name: "no-image", spec: { container: { image: "localhost/does-not-exist:1" } } });
    const state = await waitTerminated(executor, "no-image", 90_000);
    expect(state.reason).toBe("ErrImagePull");
    expect(state.message).toContain("localhost/does-not-exist:1");
  });

  it("re-adopts a running container after the executor is SIGKILLed and reports its true exit", async () => {
    await executor.client.createTask(busybox("survivor", "echo before; sleep 3; echo after; exit 5"));
    await waitFor(async () => (await executor.client.logs("survivor")).toString() === "before\n", 60_000);
    await executor.kill();
    executor = await executor.restart();
    expect(await waitTerminated(executor, "survivor", 60_000)).toMatchObject({ exitCode: 5, reason: "Failed" });
    expect((await executor.client.logs("survivor")).toString()).toBe("before\nafter\n");
  });
});

describe("container mode start-up", () => {
  it("fails with a message naming the socket when the CRI runtime does not answer", async () => {
    const error = await startExecutor({ args: ["--enable-container-mode=true", "--cri-socket=/tmp/no-such-cri.sock"] }).catch((e: Error) => e);
    expect(String(error)).toContain("/tmp/no-such-cri.sock");
  });
});
