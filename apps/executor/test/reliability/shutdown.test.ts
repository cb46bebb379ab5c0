import http from "node:http";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readPidFile } from "@org/runtime-process";
import { startExecutor, tempDir, waitFor, type ExecutorProcess } from "@org/testkit";
import { pidAlive, rawRequest, shTask, terminatedOf, type RawReply } from "./support.js";

/**
 * SIGTERM: requests in flight finish, no new connection is accepted, state is on disk, and tasks keep running
 * (default) or are stopped first and recorded Cancelled (--stop-tasks-on-shutdown=true); the executor exits 0.
 */
const executors: ExecutorProcess[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const executor of executors) await executor.kill();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function taskPid(dataDir: string, name: string): Promise<number> {
  const pidFile = readPidFile(join(dataDir, name));
  if (!pidFile || pidFile.abandoned) throw new Error(`task ${name} has no keeper's pid file`);
  return pidFile.pid;
}

/** A task's state as the store left it at shutdown: in its snapshot (a clean stop leaves no journal). */
async function storedState(dataDir: string, name: string): Promise<Record<string, unknown>> {
  expect((await readdir(dataDir)).filter((entry) => entry.startsWith(".journal."))).toEqual([]);
  const records = (await readFile(join(dataDir, "tasks.snapshot"), "utf8")).trim().split("\n").slice(0, -1);
  const record = records.map((line) => JSON.parse(line) as { name: string; state: Record<string, unknown> }).find((r) => r.name === name);
  return record!.state;
}

/**
 * The executor's side of its established TCP connections on `port` (from /proc/net/tcp and tcp6, same network
 * namespace), with how many received bytes it has not read yet.
 */
async function serverConnections(port: number): Promise<Array<{ unread: number }>> {
  const found: Array<{ unread: number }> = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (await readFile(table, "utf8").catch(() => "")).split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [local, , state, queues] = [fields[1], fields[2], fields[3], fields[4]];
      if (!local || state !== "01" || !queues) continue; // 01 = ESTABLISHED
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== port) continue;
      found.push({ unread: parseInt(queues.split(":")[1] ?? "0", 16) });
    }
  }
  return found;
}

/** Waits until the executor accepted `count` more connections than `before` and has read every request on them. */
async function requestsRead(port: number, before: number, count: number): Promise<void> {
  await waitFor(async () => {
    const connections = await serverConnections(port);
    return connections.length >= before + count && connections.every((connection) => connection.unread === 0);
  }, 10_000, 10);
}

/** An open /events stream; resolves `ended` once the connection is closed, however it closed. */
function openEvents(url: string): Promise<{ ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const request = http.get(`${url}/events`, { agent: false }, (response) => {
      const ended = new Promise<void>((done) => response.once("close", () => done()));
      response.on("error", () => undefined);
      response.resume();
      resolve({ ended });
    });
    request.on("error", reject);
  });
}

type Settled = { reply: RawReply } | { error: string };
const settle = (promise: Promise<RawReply>): Promise<Settled> => promise.then((reply) => ({ reply }), (error: Error) => ({ error: error.message }));

describe("graceful shutdown on SIGTERM", () => {
  it("finishes in-flight requests, refuses new connections, persists state and leaves tasks running", { timeout: 90_000 }, async () => {
    const root = await tempDir("shutdown-");
    dirs.push(root);
    const gate = join(root, "go");
    const executor = await startExecutor({ dataDir: join(root, "data") });
    executors.push(executor);
    await executor.client.createTask(shTask("survivor", `echo up; while [ ! -e ${gate} ]; do sleep 0.1; done; echo down; exit 5`));
    await waitFor(async () => (await executor.client.logs("survivor")).toString() === "up\n", 20_000);
    const pid = await taskPid(executor.dataDir, "survivor");

    const events = await openEvents(executor.url);
    const port = Number(new URL(executor.url).port);
    const connectionsBefore = (await serverConnections(port)).length;
    const longPoll = (seconds: number) =>
      settle(rawRequest(executor.url, { path: `/tasks/survivor?waitFor=terminated&timeoutSeconds=${seconds}`, agent: false }));
    const shortPoll = longPoll(1);
    const longerPoll = longPoll(2);
    // Both long-polls are in flight once the executor has read their requests.
    await requestsRead(port, connectionsBefore, 2);

    executor.child.kill("SIGTERM");
    await waitFor(() => executor.output.some((line) => line.includes('"message":"shutting down"')), 10_000, 10);
    const probe = await settle(rawRequest(executor.url, { path: "/health", agent: false, timeoutMs: 5000 }));
    expect("error" in probe ? probe.error : `status ${probe.reply.status}`, "a new connection after SIGTERM").toMatch(/ECONNREFUSED|ECONNRESET|socket hang up/);

    // The 1 s long-poll ends well before open streams are cut: a complete reply.
    const first = await shortPoll;
    expect("reply" in first ? first.reply.status : first.error).toBe(200);
    if ("reply" in first) expect(first.reply.json).toMatchObject({ name: "survivor", status: { state: { running: {} } } });
    // The 2 s one either completes or is closed cleanly, never cut in the middle of a reply.
    const second = await longerPoll;
    if ("reply" in second) {
      expect(second.reply.status).toBe(200);
      expect(second.reply.json).toMatchObject({ name: "survivor" });
    } else {
      expect(second.error).toMatch(/socket hang up|ECONNRESET/);
    }

    expect(await executor.stop()).toBe(0);
    await events.ended;
    expect(pidAlive(pid), "the task outlives the executor").toBe(true);
    expect(await storedState(executor.dataDir, "survivor")).toHaveProperty("running");

    await writeFile(gate, "");
    await waitFor(() => !pidAlive(pid), 20_000);
    const restarted = await executor.restart();
    executors.push(restarted);
    expect(terminatedOf(await restarted.client.waitForTerminated("survivor", 30))).toMatchObject({ exitCode: 5, reason: "Failed" });
    expect((await restarted.client.logs("survivor")).toString()).toBe("up\ndown\n");
  });

  it("with --stop-tasks-on-shutdown=true stops tasks, records them Cancelled, then exits 0", { timeout: 90_000 }, async () => {
    const root = await tempDir("shutdown-stop-");
    dirs.push(root);
    const executor = await startExecutor({ dataDir: join(root, "data"), args: ["--stop-tasks-on-shutdown=true", "--stop-grace-period=2s"] });
    executors.push(executor);
    const tasks = {
      plain: { script: "echo ready; sleep 60", exitCode: 143 },
      trapper: { script: "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.1; done", exitCode: 3 },
      stubborn: { script: "trap '' TERM; echo ready; while :; do sleep 0.1; done", exitCode: 137 },
    };
    for (const [name, { script }] of Object.entries(tasks)) await executor.client.createTask(shTask(name, script));
    for (const name of Object.keys(tasks)) await waitFor(async () => (await executor.client.logs(name)).toString().startsWith("ready\n"), 20_000);
    const pids = await Promise.all(Object.keys(tasks).map((name) => taskPid(executor.dataDir, name)));

    expect(await executor.stop()).toBe(0);
    expect(pids.filter(pidAlive), "task processes left after the executor exited").toEqual([]);
    const expected = Object.fromEntries(Object.entries(tasks).map(([name, { exitCode }]) => [name, { exitCode, reason: "Cancelled" }]));
    const stored = Object.fromEntries(
      await Promise.all(
        Object.keys(tasks).map(async (name) => {
          const state = (await storedState(executor.dataDir, name)).terminated as { exitCode: number; reason: string } | undefined;
          return [name, state ? { exitCode: state.exitCode, reason: state.reason } : "not terminated"] as const;
        }),
      ),
    );
    expect(stored, "states stored on disk when the executor exited").toEqual(expected);

    const restarted = await executor.restart({ args: [] });
    executors.push(restarted);
    for (const [name, { exitCode }] of Object.entries(tasks)) {
      expect(terminatedOf(await restarted.client.getTask(name)), name).toMatchObject({ exitCode, reason: expected[name]!.reason });
    }
    // The SIGTERM reaches the whole process group, so the shell may also report its `sleep` as Terminated.
    const lines = (await restarted.client.logs("trapper")).toString().split("\n");
    expect(lines.filter((line) => line !== "Terminated")).toEqual(["ready", "got TERM", ""]);
  });
});
