import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Task } from "@org/task-core";
import { startExecutor, tempDir, waitFor, type ExecutorProcess } from "@org/testkit";
import { deadPid, logLines, pidAlive, terminatedOf } from "./support.js";

/**
 * Data dirs as a power cut leaves them, written by hand before the executor starts: torn and corrupt task.json
 * files, running tasks whose keeper is gone, keepers that finished while the executor was down, leftover temp
 * files. Start-up never fails, every case is reported and each is resolved the same way on every start.
 */
const STARTED_AT = new Date(Date.now() - 60_000).toISOString();
let sequence = 0;

function record(name: string, state: Record<string, unknown>, extra: Record<string, unknown> = {}, script = "exit 0") {
  return {
    version: 1,
    name,
    spec: { process: { command: ["sh", "-c"], args: [script] } },
    legacyShape: false,
    origin: "api",
    runtime: "process",
    creationTimestamp: new Date(Date.now() - 120_000 + sequence * 10).toISOString(),
    sequence: sequence++,
    state,
    ...extra,
  };
}

const running = { running: { startedAt: STARTED_AT } };
/** The pid file (docs/task-shim.md) and the handle the executor stored when the keeper started. */
const pidFile = (runId: string, keeperPid: number, pid: number) => JSON.stringify({ runId, keeperPid, pid, startedAt: STARTED_AT });
const exitRecord = (runId: string, exitCode: number) =>
  JSON.stringify({ runId, exitCode, signal: null, timedOut: false, startError: null, startedAt: STARTED_AT, finishedAt: STARTED_AT });
const handle = (runId: string, keeperPid: number, pid: number) => ({ runtime: "process", runId, keeperPid, keeperStartTicks: "1", pid, startedAt: STARTED_AT });

describe("power cut: start-up on a data dir left in a bad state", () => {
  let root = "";
  let dataDir = "";
  let executor: ExecutorProcess;
  let bystander: ChildProcess;
  const valid = JSON.stringify(record("torn", running));
  const corruptBytes = Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x9c, 0x00, 0x10, 0x22]);
  const quarantined = ["torn", "empty", "garbage", "wrong-schema", "other-name", "no-record", "-bad-name"];

  async function put(name: string, files: Record<string, string | Buffer>): Promise<void> {
    await mkdir(join(dataDir, name), { recursive: true });
    for (const [file, content] of Object.entries(files)) await writeFile(join(dataDir, name, file), content);
  }

  beforeAll(async () => {
    root = await tempDir("power-cut-");
    dataDir = join(root, "data");
    const keeper = await deadPid();
    const child = await deadPid();
    // An unrelated live process that, after a reboot, holds the pid a keeper had before the power cut.
    bystander = spawn("sleep", ["120"], { detached: true, stdio: "ignore" });
    const reused = bystander.pid!;

    await put("torn", { "task.json": valid.slice(0, 57) });
    await put("empty", { "task.json": "" });
    await put("garbage", { "task.json": corruptBytes });
    await put("wrong-schema", { "task.json": JSON.stringify({ version: 2, name: "wrong-schema" }) });
    await put("other-name", { "task.json": JSON.stringify(record("someone-else", running)) });
    await put("no-record", { "stdout.log": "2026-01-01T00:00:00.000000000Z stdout F orphan\n" });
    await put("-bad-name", { "task.json": JSON.stringify(record("bad-name", running)) });
    await put("finished-temp", {
      "task.json": JSON.stringify(record("finished-temp", { terminated: { exitCode: 3, reason: "Failed", startedAt: STARTED_AT, finishedAt: STARTED_AT } })),
      "task.json.tmp-4f2a9c01b7de": valid.slice(0, 20),
    });
    await put("lost", { "task.json": JSON.stringify(record("lost", running, { handle: handle("run-lost", keeper, child) })), pid: pidFile("run-lost", keeper, child) });
    await put("lost-exit-temp", {
      "task.json": JSON.stringify(record("lost-exit-temp", running, { handle: handle("run-lost-exit-temp", keeper, child) })),
      pid: pidFile("run-lost-exit-temp", keeper, child),
      "exit.tmp.run-lost-exit-temp": '{"runId":"run-lost-exit-temp","exitCo',
    });
    // A keeper's temp file is only taken for a leftover once it is older than a minute (a live keeper may be
    // about to rename it into place); the power cut was long ago.
    const longAgo = new Date(Date.now() - 3_600_000);
    await utimes(join(dataDir, "lost-exit-temp", "exit.tmp.run-lost-exit-temp"), longAgo, longAgo);
    await put("lost-no-trace", { "task.json": JSON.stringify(record("lost-no-trace", running)) });
    await put("corrupt-pid", { "task.json": JSON.stringify(record("corrupt-pid", running, { handle: handle("run-corrupt-pid", keeper, child) })), pid: '{"runId":"run-c' });
    await put("finished-offline", {
      "task.json": JSON.stringify(record("finished-offline", running, { handle: handle("run-finished-offline", keeper, child) })),
      pid: `${pidFile("run-finished-offline", keeper, child)}\n${exitRecord("run-finished-offline", 42)}\n`,
      "stdout.log": "2026-01-01T00:00:00.000000000Z stdout F done offline\n",
    });
    // The power cut came while the keeper appended its exit record: the line has no newline yet, so it is none.
    await put("exit-record-cut", {
      "task.json": JSON.stringify(record("exit-record-cut", running, { handle: handle("run-exit-record-cut", keeper, child) })),
      pid: `${pidFile("run-exit-record-cut", keeper, child)}\n${exitRecord("run-exit-record-cut", 5).slice(0, 30)}`,
    });
    // The keeper ran and finished, but the executor died before it recorded `running`: adopted, never run again.
    // Its outcome is in an `exit` file of its own, as keepers of earlier versions wrote it.
    await put("started-unrecorded", {
      "task.json": JSON.stringify(record("started-unrecorded", { waiting: { reason: "Initialized" } })),
      pid: pidFile("run-started-unrecorded", keeper, child),
      exit: exitRecord("run-started-unrecorded", 9),
    });
    // The keeper linked its pid file and fsynced the directory, but not the file: the power cut left it empty.
    // The task may have run, so it is not started again.
    await put("started-pid-empty", {
      "task.json": JSON.stringify(record("started-pid-empty", { waiting: { reason: "Initialized" } }, {}, `echo empty-pid >> ${join(root, "runs.txt")}`)),
      pid: "",
    });
    await put("never-started", {
      "task.json": JSON.stringify(record("never-started", { waiting: { reason: "Queued" } }, {}, `echo started >> ${join(root, "runs.txt")}; echo once; exit 4`)),
    });
    await put("corrupt-exit", {
      "task.json": JSON.stringify(record("corrupt-exit", running, { handle: handle("run-corrupt-exit", keeper, child) })),
      pid: pidFile("run-corrupt-exit", keeper, child),
      exit: '{"runId":"run-corrupt-exit","exitCode":',
    });
    await put("pid-reused", { "task.json": JSON.stringify(record("pid-reused", running, { handle: handle("run-pid-reused", reused, reused) })), pid: pidFile("run-pid-reused", reused, reused) });
    await writeFile(join(dataDir, "events.lease.tmp-0a1b2c3d4e5f"), "12");
    await mkdir(join(dataDir, ".trash", "gone-3f9a"), { recursive: true });
    await writeFile(join(dataDir, ".trash", "gone-3f9a", "task.json"), valid);

    executor = await startExecutor({ dataDir, args: ["--stop-grace-period=1s"] });
  });

  afterAll(async () => {
    await executor?.kill();
    bystander?.kill("SIGKILL");
    if (root) await rm(root, { recursive: true, force: true });
  });

  const stateOf = async (name: string) => terminatedOf(await executor.client.getTask(name));
  const problems = () => logLines(executor.output, "data dir recovery").map((line) => String(line.problem));

  it("starts and reports each corrupt record and leftover task.json temp file as a data dir recovery warning", async () => {
    expect((await executor.client.health()).status).toBe("healthy");
    for (const name of quarantined) expect(problems().some((problem) => problem.startsWith(`${name}:`) && problem.includes("moved aside")), name).toBe(true);
    expect(problems().some((problem) => problem.includes("finished-temp: removed leftover temp file task.json.tmp-4f2a9c01b7de"))).toBe(true);
    expect(problems().some((problem) => problem.includes("events.lease.tmp-0a1b2c3d4e5f"))).toBe(true);
    const summary = logLines(executor.output, "recovered tasks from the data dir")[0];
    // Every problem counted in the summary is logged on its own: the scan's, then those found while re-adopting
    // (the unreadable pid file, tasks whose keeper vanished).
    const recovery = logLines(executor.output, "task recovery").map((line) => String(line.problem));
    expect(recovery.some((problem) => problem.startsWith("corrupt-pid:"))).toBe(true);
    expect(recovery.some((problem) => problem.startsWith("lost:"))).toBe(true);
    expect(summary?.problems).toBe(problems().length + recovery.length);
  });

  it("moves corrupt records to <data-dir>/.quarantine/ with their content, and drops the rest of the trash", async () => {
    const entries = await readdir(join(dataDir, ".quarantine"));
    for (const name of quarantined) expect(entries.filter((entry) => entry.startsWith(`${name}-`) && /-\d+$/.test(entry)), name).toHaveLength(1);
    const torn = entries.find((entry) => entry.startsWith("torn-"))!;
    expect(await readFile(join(dataDir, ".quarantine", torn, "task.json"), "utf8")).toBe(valid.slice(0, 57));
    const garbage = entries.find((entry) => entry.startsWith("garbage-"))!;
    expect(await readFile(join(dataDir, ".quarantine", garbage, "task.json"))).toEqual(corruptBytes);
    const listed = (await executor.client.listTasks()).map((task) => task.name);
    for (const name of [...quarantined, "someone-else", "bad-name"]) expect(listed).not.toContain(name);
    expect(await readdir(join(dataDir, "finished-temp"))).toEqual(["task.json"]);
    expect(await readdir(dataDir)).not.toContain("events.lease.tmp-0a1b2c3d4e5f");
    expect(await readdir(join(dataDir, ".trash")).catch(() => [])).toEqual([]);
  });

  it("a running task whose keeper vanished without an exit record ends terminated, reason Lost, exit code 255", async () => {
    for (const name of ["lost", "lost-exit-temp", "lost-no-trace", "corrupt-pid", "started-pid-empty", "exit-record-cut"]) {
      const state = await waitFor(() => stateOf(name), 15_000);
      expect({ name, reason: state.reason, exitCode: state.exitCode }).toEqual({ name, reason: "Lost", exitCode: 255 });
    }
  });

  it("outcomes recorded while the executor was down are read, and nothing runs twice", async () => {
    expect(await waitFor(() => stateOf("finished-offline"), 15_000)).toMatchObject({ exitCode: 42, reason: "Failed" });
    expect((await executor.client.logs("finished-offline")).toString()).toBe("done offline\n");
    expect(await waitFor(() => stateOf("started-unrecorded"), 15_000)).toMatchObject({ exitCode: 9, reason: "Failed" });
    expect(await stateOf("finished-temp")).toMatchObject({ exitCode: 3, reason: "Failed" });
    expect(terminatedOf(await executor.client.waitForTerminated("never-started", 30))).toMatchObject({ exitCode: 4, reason: "Failed" });
    expect((await executor.client.logs("never-started")).toString()).toBe("once\n");
    expect(await readFile(join(root, "runs.txt"), "utf8")).toBe("started\n");
  });

  it("a corrupt exit file of a vanished keeper is resolved (Lost), not left running", async () => {
    const state = await waitFor(() => stateOf("corrupt-exit"), 15_000).catch(() => undefined);
    expect(state, `corrupt-exit is still ${JSON.stringify((await executor.client.getTask("corrupt-exit")).status.state)}`).toMatchObject({ reason: "Lost", exitCode: 255 });
  });

  it("a pid file whose keeper pid now belongs to another process (reboot) is not adopted, and that process is never signalled", async () => {
    const state = await waitFor(() => stateOf("pid-reused"), 15_000).catch(() => undefined);
    const stateNow = JSON.stringify((await executor.client.getTask("pid-reused")).status.state);
    await executor.client.stopTask("pid-reused");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(pidAlive(bystander.pid!), "the unrelated process holding the old keeper pid was killed by a stop").toBe(true);
    expect(state, `pid-reused is still ${stateNow}`).toMatchObject({ reason: "Lost", exitCode: 255 });
  });

  it("a keeper's leftover exit.tmp file is removed and reported like other temp files", async () => {
    expect(problems().filter((problem) => problem.includes("exit.tmp.run-lost-exit-temp"))).toHaveLength(1);
    expect(await readdir(join(dataDir, "lost-exit-temp"))).not.toContain("exit.tmp.run-lost-exit-temp");
  });

  it("a task found Lost at start-up is named in the executor's log", async () => {
    await waitFor(() => stateOf("lost"), 15_000);
    expect(executor.output.filter((line) => line.includes('"lost"') || line.includes("lost:")), "no log line names the lost task").not.toEqual([]);
  });

  it("a second start finds nothing left to repair and reports the same outcomes", async () => {
    const isSettled = (task: Task) => !["corrupt-exit", "pid-reused"].includes(task.name);
    const before = (await executor.client.listTasks()).filter(isSettled);
    await executor.kill();
    executor = await executor.restart();
    expect(logLines(executor.output, "recovered tasks from the data dir")[0]?.problems).toBe(0);
    expect(problems()).toEqual([]);
    expect((await executor.client.listTasks()).filter(isSettled)).toEqual(before);
    expect(await readFile(join(root, "runs.txt"), "utf8")).toBe("started\n");
  });
});
