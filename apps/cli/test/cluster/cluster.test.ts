import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SCHEDULE_LABEL, TASK_GROUP, TASK_PLURAL, TASK_SCHEDULE_PLURAL, TASK_VERSION, type TaskResource, type TaskScheduleResource } from "@org/task-api";
import { createTestNamespace, startExecutorPod, waitFor, type ExecutorPod } from "@org/testkit";
import { cleanEnv, TASKCTL } from "../helpers.js";
import { env, kubectlTask, startController, type Controller } from "./helpers.js";

describe("taskctl in cluster mode, against a real API server, the controller and an executor pod", () => {
  let namespace: string;
  let executor: ExecutorPod;
  let controller: Controller;
  let dir: string;
  const run = (args: string[], input?: string) => kubectlTask(namespace, args, input === undefined ? {} : { input });
  const custom = () => env().customObjects();
  const getTask = async (name: string) =>
    (await custom().getNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, namespace, plural: TASK_PLURAL, name })) as TaskResource;
  const getSchedule = async (name: string) =>
    (await custom().getNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, namespace, plural: TASK_SCHEDULE_PLURAL, name })) as TaskScheduleResource;

  beforeAll(async () => {
    namespace = await createTestNamespace(env(), "cli");
    executor = await startExecutorPod(env(), { namespace, name: "executor-1", executor: { args: ["--stop-grace-period=2s"] } });
    controller = await startController();
    dir = await mkdtemp(join(tmpdir(), "taskctl-cluster-"));
  });
  afterAll(async () => {
    await controller?.stop();
    await executor?.stop();
  });

  it("run --wait creates a Task, waits for it and exits with its code", async () => {
    const result = await run(["run", "--wait", "t", "--", "sh", "-c", "echo from the executor; exit 3"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/^NAME\s+STATE\s+EXIT\s+REASON\s+AGE\s+DURATION\nt\s+Failed\s+3\s+Failed\s+\S+\s+\S+\n$/);
    const task = await getTask("t");
    expect(task.status).toMatchObject({ phase: "Failed", exitCode: 3, executor: { pod: "executor-1" } });
  });

  it("logs come through the API server's pod proxy", async () => {
    const logs = await run(["logs", "t"]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe("from the executor\n");
    const stamped = await run(["logs", "t", "--timestamps", "--tail", "1"]);
    expect(stamped.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+Z from the executor\n$/);
  });

  it("run -f streams the output while the Task runs", async () => {
    const child = spawn(process.execPath, [TASKCTL, "--kubeconfig", env().kubeconfigPath, "-n", namespace, "run", "-f", "streamed", "--", "sh", "-c", "echo first; sleep 4; echo second"], {
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let phaseAtFirstLine: string | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes("first\n") && phaseAtFirstLine === undefined) {
        phaseAtFirstLine = "asking";
        void getTask("streamed").then((task) => (phaseAtFirstLine = task.status?.phase));
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(0);
    expect(stdout).toBe("first\nsecond\n");
    expect(phaseAtFirstLine).toBe("Running");
  });

  it("list prints the phase; -l goes to the API server; json and yaml are the Kubernetes list and round-trip through apply", async () => {
    await run(["run", "--label", "team=data", "labelled", "--", "true"]);
    const table = await run(["list"]);
    expect(table.stdout).toMatch(/^NAME\s+STATE\s+EXIT\s+REASON\s+AGE\s+DURATION\n/);
    expect(table.stdout).toMatch(/\nt\s+Failed\s+3\s+Failed/);
    const selected = await run(["list", "-l", "team=data", "-o", "name"]);
    expect(selected.stdout).toBe("task/labelled\n");
    const json = JSON.parse((await run(["list", "-o", "json"])).stdout);
    expect(json.kind).toBe("TaskList");
    expect(json.items.map((item: TaskResource) => item.metadata.name).sort()).toEqual(["labelled", "streamed", "t"]);
    const yaml = (await run(["list", "-o", "yaml"])).stdout;
    expect(parse(yaml).items).toHaveLength(3);
    const before = await getTask("t");
    const applied = await run(["apply", "-f", "-"], yaml);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toBe("task/labelled applied\ntask/streamed applied\ntask/t applied\n");
    const after = await getTask("t");
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.spec).toEqual(before.spec);
    expect(after.status?.phase).toBe("Failed");
  });

  it("apply creates Tasks from executor-shaped items and removes nothing", async () => {
    const file = join(dir, "tasks.yaml");
    await writeFile(file, "- name: applied\n  labels: {app: billing}\n  spec:\n    process:\n      command: [sh, -c, 'echo applied']\n");
    const result = await run(["apply", "-f", file]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("task/applied applied\n");
    await waitFor(async () => (await getTask("applied")).status?.phase === "Succeeded", 60_000);
    expect((await run(["list", "-o", "name"])).stdout.split("\n").filter(Boolean).sort()).toEqual(["task/applied", "task/labelled", "task/streamed", "task/t"]);
    expect((await run(["logs", "applied"])).stdout).toBe("applied\n");
  });

  it("stop cancels a running Task and delete removes it", async () => {
    await run(["run", "sleeper", "--", "sleep", "300"]);
    await waitFor(async () => (await getTask("sleeper")).status?.phase === "Running", 60_000);
    const stopped = await run(["stop", "sleeper"]);
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(/\nsleeper\s+Cancelled\s/);
    expect((await getTask("sleeper")).spec.terminated).toBe(true);
    const deleted = await run(["delete", "sleeper"]);
    expect(deleted.stdout).toBe("task/sleeper deleted\n");
    await waitFor(async () => !(await run(["list", "-o", "name"])).stdout.includes("task/sleeper"), 60_000);
  });

  it("errors: an unknown Task, and a Task that is never placed ends --wait with 125", async () => {
    const unknown = await run(["get", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: NotFound: .*"nope" not found\n$/);
    const empty = await createTestNamespace(env(), "cli-empty");
    const waited = await kubectlTask(empty, ["run", "--wait", "--wait-timeout", "5s", "nowhere", "--", "true"]);
    expect(waited.code).toBe(125);
    expect(waited.stderr).toMatch(/^task nowhere did not start in time: Pending/);
  });

  it("schedule verbs: create, list, get, run, history, suspend, resume, delete", async () => {
    const created = await run(["schedule", "create", "tick", "--schedule", "*/2 * * * * *", "--concurrency-policy", "Forbid", "--app", "ticker", "--", "echo", "tick"]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^NAME\s+SCHEDULE\s+TIMEZONE\s+POLICY\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE\ntick\s+\*\/2 \* \* \* \* \*\s+UTC\s+Forbid\s+false\s+/);
    const schedule = await getSchedule("tick");
    expect(schedule.spec.taskTemplate.spec.process).toEqual({ command: ["echo"], args: ["tick"] });
    await waitFor(async () => (await run(["schedule", "history", "tick", "-o", "name"])).stdout.includes("task/"), 60_000);
    expect((await run(["schedule", "list", "-o", "name"])).stdout).toBe("taskschedule/tick\n");
    expect(parse((await run(["schedule", "get", "tick", "-o", "yaml"])).stdout).spec.schedule).toBe("*/2 * * * * *");
    expect((await run(["schedule", "suspend", "tick"])).stdout).toBe("taskschedule/tick suspended\n");
    expect((await getSchedule("tick")).spec.suspend).toBe(true);
    const manual = await run(["schedule", "run", "tick", "-o", "json"]);
    const task = JSON.parse(manual.stdout) as TaskResource;
    expect(task.metadata.labels?.[SCHEDULE_LABEL]).toBe("tick");
    await waitFor(async () => (await getTask(task.metadata.name!)).status?.phase === "Succeeded", 60_000);
    const history = await run(["schedule", "history", "tick"]);
    expect(history.stdout).toContain(task.metadata.name);
    expect((await run(["schedule", "resume", "tick"])).stdout).toBe("taskschedule/tick resumed\n");
    expect((await getSchedule("tick")).spec.suspend).toBe(false);
    expect((await run(["schedule", "delete", "tick"])).stdout).toBe("taskschedule/tick deleted\n");
    expect((await run(["schedule", "list"])).stderr).toBe("No schedules found.\n");
  });

  it("watch prints one line per change of the namespace's Tasks when piped", async () => {
    const child = spawn(process.execPath, [TASKCTL, "--kubeconfig", env().kubeconfigPath, "-n", namespace, "watch", "-l", "watched=yes"], { env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on("close", resolve));
    try {
      await run(["run", "--label", "watched=yes", "watched", "--", "sh", "-c", "exit 4"]);
      await waitFor(() => / watched Failed 4 Failed\n/.test(stdout), 60_000);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await closed).toBe(0);
    const lines = stdout.trimEnd().split("\n");
    expect(lines.every((line) => /^\d{4}-\d\d-\d\dT\S+Z (added|modified|deleted) watched /.test(line))).toBe(true);
    // The first line is the Task as the watch first saw it (Pending, or later when taskctl started slowly).
    expect(lines[0]).toMatch(/ added watched /);
    expect(lines.at(-1)).toMatch(/ watched Failed 4 Failed$/);
  });

  it("delete --all -l removes only the matching Tasks, from the API server and from the executor", async () => {
    const names = ["purge-a", "purge-b"];
    for (const name of names) expect((await run(["run", "--label", "purge=yes", name, "--", "sleep", "300"])).code).toBe(0);
    expect((await run(["run", "--label", "purge=no", "purge-kept", "--", "true"])).code).toBe(0);
    await waitFor(async () => (await Promise.all(names.map(getTask))).every((task) => task.status?.phase === "Running"), 60_000);
    const onExecutor = async () => (await executor.executor.client.listTasks()).filter((task) => /purge-[ab]/.test(task.name));
    expect(await onExecutor()).toHaveLength(2);
    const before = (await run(["list", "-o", "name"])).stdout.split("\n").filter(Boolean);
    expect(before).toContain("task/purge-kept");

    const unconfirmed = await run(["delete", "--all", "-l", "purge=yes"]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/delete --all needs --yes when not on a terminal/);
    // Refused means nothing was deleted.
    expect((await Promise.all(names.map(getTask))).map((task) => task.metadata.deletionTimestamp)).toEqual([undefined, undefined]);
    const deleted = await run(["delete", "--all", "-l", "purge=yes", "--yes"]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.split("\n").filter(Boolean).sort()).toEqual(["task/purge-a deleted", "task/purge-b deleted"]);
    await waitFor(async () => !/task\/purge-[ab]/.test((await run(["list", "-o", "name"])).stdout), 60_000);
    await waitFor(async () => (await onExecutor()).length === 0, 60_000);
    expect((await run(["list", "-o", "name"])).stdout.split("\n").filter(Boolean)).toEqual(before.filter((name) => !/purge-[ab]/.test(name)));
    expect((await run(["delete", "--all", "-l", "purge=yes", "--yes"])).stderr).toBe("No tasks found.\n");
  });

  it("health and version name the API server", async () => {
    expect((await run(["health"])).stdout).toMatch(/: API server ok\n$/);
    expect((await run(["version"])).stdout).toMatch(/^Client Version: 0\.1\.0\nServer: \S+ Kubernetes v1\.\d+\.\d+/);
  });
});
