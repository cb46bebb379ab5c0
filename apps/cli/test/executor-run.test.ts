import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { cleanEnv, taskctl, TASKCTL } from "./helpers.js";

describe("taskctl run against a real executor", () => {
  let executor: ExecutorProcess;
  let env: Record<string, string>;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--max-concurrent-tasks=1", "--stop-grace-period=2s"] });
    env = { TASKCTL_EXECUTOR: executor.url };
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("without --wait prints the created task as a row and returns at once", async () => {
    const result = await taskctl(["run", "plain", "--", "sh", "-c", "sleep 1"], { env });
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")[0]).toMatch(/^NAME\s+STATE\s+EXIT\s+REASON\s+AGE\s+DURATION$/);
    expect(result.stdout.split("\n")[1]).toMatch(/^plain\s+(waiting|running)/);
    expect(result.stderr).toBe("");
    await executor.client.waitForTerminated("plain", 30);
  });

  it("--wait passes the task's exit code through and prints the final row", async () => {
    const result = await taskctl(["run", "--wait", "t", "--", "sh", "-c", "exit 3"], { env });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/\nt\s+terminated\s+3\s+Failed\s/);
    const ok = await taskctl(["run", "--wait", "t0", "--", "true"], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/\nt0\s+terminated\s+0\s+Succeeded\s/);
  });

  it("--wait takes flags: env, workdir, labels, app, timeout (a timed-out task exits 137)", async () => {
    const result = await taskctl(
      ["run", "--wait", "--env", "GREETING=hi there", "--workdir", "/tmp", "--label", "team=data", "--app", "billing", "--timeout", "1s", "flags", "-o", "json", "--", "sh", "-c", 'echo "$GREETING in $(pwd)"; sleep 30'],
      { env },
    );
    expect(result.code).toBe(137);
    const task = JSON.parse(result.stdout);
    expect(task.labels).toEqual({ team: "data", "app.kubernetes.io/name": "billing" });
    expect(task.spec.process).toMatchObject({ command: ["sh"], workingDir: "/tmp", timeoutSeconds: 1, env: [{ name: "GREETING", value: "hi there" }] });
    expect(task.status.state.terminated.reason).toBe("TaskTimeout");
    expect((await executor.client.logs("flags")).toString()).toBe("hi there in /tmp\n");
  });

  it("a task cancelled while it runs passes its own code (143 after SIGTERM)", async () => {
    const waiting = taskctl(["run", "--wait", "cancelled", "--", "sleep", "30"], { env });
    await waitFor(async () => "running" in (await executor.client.getTask("cancelled")).status.state, 10_000);
    await executor.client.stopTask("cancelled");
    const result = await waiting;
    expect(result.code).toBe(143);
    expect(result.stdout).toMatch(/cancelled\s+terminated\s+143\s+Cancelled/);
  });

  it("a task cancelled before it started exits 125 with its reason on stderr", async () => {
    await executor.client.createTask({ name: "blocker", spec: { process: { command: ["sleep", "30"] } } });
    try {
      const waiting = taskctl(["run", "--wait", "queued", "--", "true"], { env });
      await waitFor(async () => JSON.stringify((await executor.client.getTask("queued")).status.state).includes("Queued"), 10_000);
      await executor.client.stopTask("queued");
      const result = await waiting;
      expect(result.code).toBe(125);
      expect(result.stderr).toMatch(/^task queued ended without an exit code \(Cancelled: [^\n]+\)\n$/);
    } finally {
      await executor.client.deleteTask("blocker");
    }
  });

  it("--follow streams the output while the task runs and exits with its code", async () => {
    const child = spawn(process.execPath, [TASKCTL, "run", "-f", "streamed", "--", "sh", "-c", "echo first; sleep 3; echo second >&2; exit 4"], {
      env: cleanEnv(env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let stateAtFirstLine: string | undefined;
    const firstLine = new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes("first\n") && stateAtFirstLine === undefined) {
          stateAtFirstLine = "pending";
          void executor.client.getTask("streamed").then((task) => {
            stateAtFirstLine = Object.keys(task.status.state)[0];
            resolve();
          });
        }
      });
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    await firstLine;
    expect(stateAtFirstLine).toBe("running");
    expect(stdout).toBe("first\n");
    expect(stderr).toBe("second\n");
    expect(code).toBe(4);
  });

  it("watch prints one plain line per change when piped, and ends on SIGTERM", async () => {
    const child = spawn(process.execPath, [TASKCTL, "watch", "-l", "watched=yes"], { env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    // Once a probe task shows up, the watch is connected.
    let probes = 0;
    await waitFor(async () => {
      if (stdout.includes(" probe-")) return true;
      await executor.client.createTask({ name: `probe-${++probes}`, labels: { watched: "yes" }, spec: { process: { command: ["true"] } } });
      await new Promise((resolve) => setTimeout(resolve, 500));
      return stdout.includes(" probe-");
    }, 30_000);
    await executor.client.createTask({ name: "unwatched", spec: { process: { command: ["true"] } } });
    await executor.client.createTask({ name: "watched", labels: { watched: "yes" }, spec: { process: { command: ["sh", "-c", "exit 2"] } } });
    await waitFor(() => stdout.includes(" terminated watched "), 15_000);
    child.kill("SIGTERM");
    expect(await closed).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.every((line) => /^\d{4}-\d\d-\d\dT\S+Z \S+ (watched|probe-\d+) /.test(line))).toBe(true);
    expect(lines.map((line) => line.split(" ").slice(1).join(" "))).toEqual(expect.arrayContaining(["created watched waiting - Initialized", "terminated watched terminated 2 Failed"]));
    expect(stdout).not.toMatch(/\x1b/);
  });
});
