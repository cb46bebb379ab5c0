import { describe, expect, it } from "vitest";
import { SCHEDULE_LABEL, type TaskResource, type TaskScheduleResource } from "@org/task-api";
import { parseManifest } from "../src/manifest.js";
import { taskRow } from "../src/format/rows.js";
import { appliedObject, logsPathOf, scheduleRow, taskFromSchedule, taskResourceOf, viewOfTaskResource } from "../src/targets/cluster-convert.js";
import { scheduleFromCreate } from "../src/verbs/schedule.js";
import { exitCodeFor } from "../src/verbs/run.js";

const NOW = Date.parse("2024-05-01T12:00:00Z");
const resource = (status: TaskResource["status"], extra: Partial<TaskResource["metadata"]> = {}): TaskResource => ({
  apiVersion: "tasks.org.dev/v1alpha1",
  kind: "Task",
  metadata: { name: "job", namespace: "batch", creationTimestamp: "2024-05-01T11:58:00Z", labels: { app: "billing" }, ...extra },
  spec: { process: { command: ["sh", "-c", "exit 3"] }, terminated: false, backoffLimit: 0 },
  ...(status ? { status } : {}),
});

describe("Task resources as views and rows", () => {
  it.each([
    ["new, no status", undefined, ["job", "Pending", "", "", "2m", ""], false, false],
    ["not placed", { phase: "Pending" as const, reason: "NoExecutor", message: "no executor matches" }, ["job", "Pending", "", "NoExecutor", "2m", ""], false, false],
    ["running", { phase: "Running" as const, startTime: "2024-05-01T11:59:00Z" }, ["job", "Running", "", "", "2m", "60s"], false, true],
    ["failed", { phase: "Failed" as const, exitCode: 3, reason: "Failed", startTime: "2024-05-01T11:59:00Z", completionTime: "2024-05-01T11:59:12Z", duration: "12s" }, ["job", "Failed", "3", "Failed", "2m", "12s"], true, true],
    ["lost", { phase: "Failed" as const, reason: "ExecutorLost" }, ["job", "Failed", "", "ExecutorLost", "2m", ""], true, false],
  ])("%s", (_label, status, row, terminal, started) => {
    const view = viewOfTaskResource(resource(status));
    expect(taskRow(view, false, NOW)).toEqual(row);
    expect(view.terminal).toBe(terminal);
    expect(view.hasStarted).toBe(started);
    expect(view.raw).toEqual(resource(status));
  });

  it("wide rows name the executor pod and node", () => {
    const view = viewOfTaskResource(resource({ phase: "Running", startTime: "2024-05-01T11:59:00Z", executor: { pod: "executor-0", node: "node-1", address: "10.0.0.5:5758", taskName: "batch.job.uid" } }));
    expect(taskRow(view, true, NOW, true)).toEqual(["job", "Running", "", "", "2m", "60s", "app=billing", "executor-0 (node-1)", "sh -c 'exit 3'"]);
  });

  it("exit codes: the task's, or 125 for a Task lost or never placed", () => {
    expect(exitCodeFor(viewOfTaskResource(resource({ phase: "Failed", exitCode: 3, startTime: "2024-05-01T11:59:00Z" }))).code).toBe(3);
    expect(exitCodeFor(viewOfTaskResource(resource({ phase: "Failed", reason: "ExecutorLost" })))).toEqual({ code: 125, problem: "task job ended without an exit code (ExecutorLost)" });
    expect(exitCodeFor(viewOfTaskResource(resource({ phase: "Pending", reason: "NoExecutor" })))).toEqual({ code: 125, problem: "task job did not start in time: Pending (NoExecutor)" });
  });
});

describe("logs through the pod proxy", () => {
  it("go to the executor pod's port and the executor-side name", () => {
    const placed = resource({ phase: "Running", executor: { pod: "executor-0", address: "10.0.0.5:5758", taskName: "batch.job.1234" } });
    expect(logsPathOf(placed)).toBe("/api/v1/namespaces/batch/pods/executor-0%3A5758/proxy/tasks/batch.job.1234/logs");
    expect(logsPathOf(resource({ phase: "Pending" }))).toBeUndefined();
  });

  it("go to the executor pod's own namespace when it serves other namespaces", () => {
    const pooled = resource({ phase: "Running", executor: { pod: "executor-0", namespace: "pool", address: "10.0.0.5:5758", taskName: "batch.job.1234" } });
    expect(logsPathOf(pooled)).toBe("/api/v1/namespaces/pool/pods/executor-0%3A5758/proxy/tasks/batch.job.1234/logs");
  });
});

describe("cluster apply", () => {
  const items = (text: string) => parseManifest(text, "tasks.yaml");

  it("turns executor-shaped items into Tasks of the namespace", () => {
    const [item] = items("- name: a\n  labels: {app: x}\n  spec:\n    process:\n      command: [echo, hi]\n");
    expect(appliedObject(item!, "batch")).toEqual({
      apiVersion: "tasks.org.dev/v1alpha1",
      kind: "Task",
      metadata: { name: "a", namespace: "batch", labels: { app: "x" } },
      spec: { process: { command: ["echo", "hi"] } },
    });
  });

  it("sends Task objects as they are, less what the API server owns", () => {
    const listed = { ...resource({ phase: "Failed", exitCode: 3 }, { uid: "u", resourceVersion: "7", managedFields: [{}], generation: 1, namespace: "other" } as never) };
    const [item] = parseManifest(JSON.stringify({ apiVersion: "v1", kind: "List", items: [listed] }), "list.json");
    expect(appliedObject(item!, "batch")).toEqual({
      apiVersion: "tasks.org.dev/v1alpha1",
      kind: "Task",
      metadata: { name: "job", namespace: "other", labels: { app: "billing" } },
      spec: listed.spec,
    });
  });

  it("passes TaskSchedules through, validated", () => {
    const [item] = items("apiVersion: tasks.org.dev/v1alpha1\nkind: TaskSchedule\nmetadata: {name: s}\nspec:\n  schedule: '*/5 * * * *'\n  taskTemplate:\n    spec:\n      process: {command: [date]}\n");
    expect(appliedObject(item!, "batch")).toMatchObject({ kind: "TaskSchedule", metadata: { name: "s", namespace: "batch" } });
  });

  it.each([
    ["- name: a\n  spec:\n    process:\n      command: []\n", /^tasks\.yaml:4: item 0 \(a\): spec\.process\.command: /],
    ["- spec: {}\n", /^tasks\.yaml:1: item 0: name: is required$/],
    ["- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n", /^tasks\.yaml:2: item 0 \(p\): kind: must be Task or TaskSchedule, got "Pod"$/],
    ["- apiVersion: tasks.org.dev/v1alpha1\n  kind: TaskSchedule\n  metadata: {name: s}\n  spec:\n    schedule: 'not a cron'\n    taskTemplate: {spec: {process: {command: [date]}}}\n", /^tasks\.yaml:5: item 0 \(s\): spec\.schedule: /],
  ])("names file, line, item and field of a bad item (%#)", (text, message) => {
    const [item] = items(text);
    expect(() => appliedObject(item!, "batch")).toThrow(message);
  });
});

describe("schedules", () => {
  it("create builds a TaskSchedule from the run flags", () => {
    expect(scheduleFromCreate("nightly", "batch", ["./backup.sh", "--all"], { schedule: "0 3 * * *", timeZone: "Europe/Berlin", concurrencyPolicy: "Forbid", app: "backup", startingDeadline: "5m" })).toEqual({
      apiVersion: "tasks.org.dev/v1alpha1",
      kind: "TaskSchedule",
      metadata: { name: "nightly", namespace: "batch" },
      spec: {
        schedule: "0 3 * * *",
        timeZone: "Europe/Berlin",
        concurrencyPolicy: "Forbid",
        suspend: false,
        startingDeadlineSeconds: 300,
        taskTemplate: { metadata: { labels: { "app.kubernetes.io/name": "backup" } }, spec: { process: { command: ["./backup.sh"], args: ["--all"] }, terminated: false, backoffLimit: 0 } },
      },
    });
    expect(scheduleFromCreate("s", "n", ["date"], { cron: "@hourly" }).spec.schedule).toBe("@hourly");
    expect(() => scheduleFromCreate("s", "n", ["date"], {})).toThrow(/--schedule/);
    expect(() => scheduleFromCreate("s", "n", ["date"], { schedule: "@daily", concurrencyPolicy: "Sometimes" })).toThrow(/--concurrency-policy/);
  });

  const schedule: TaskScheduleResource = {
    apiVersion: "tasks.org.dev/v1alpha1",
    kind: "TaskSchedule",
    metadata: { name: "nightly", namespace: "batch", uid: "u-1", creationTimestamp: "2024-04-29T12:00:00Z" },
    spec: { schedule: "0 3 * * *", timeZone: "UTC", concurrencyPolicy: "Forbid", suspend: true, taskTemplate: { metadata: { labels: { app: "x" } }, spec: { process: { command: ["date"] }, terminated: false, backoffLimit: 0 } } },
    status: { active: [{ name: "nightly-1" }], lastScheduleTime: "2024-05-01T11:00:00Z" },
  };

  it("rows", () => {
    expect(scheduleRow(schedule, NOW)).toEqual(["nightly", "0 3 * * *", "UTC", "Forbid", "true", "1", "60m ago", "2d"]);
  });

  it("a manual run is the template, labelled with and owned by its schedule", () => {
    expect(taskFromSchedule(schedule, "nightly-manual-1")).toEqual({
      apiVersion: "tasks.org.dev/v1alpha1",
      kind: "Task",
      metadata: {
        name: "nightly-manual-1",
        namespace: "batch",
        labels: { app: "x", [SCHEDULE_LABEL]: "nightly" },
        ownerReferences: [{ apiVersion: "tasks.org.dev/v1alpha1", kind: "TaskSchedule", name: "nightly", uid: "u-1", controller: false }],
      },
      spec: schedule.spec.taskTemplate.spec,
    });
  });

  it("a task resource for run", () => {
    expect(taskResourceOf({ name: "t", spec: { process: { command: ["true"] } } }, "ns")).toEqual({
      apiVersion: "tasks.org.dev/v1alpha1",
      kind: "Task",
      metadata: { name: "t", namespace: "ns" },
      spec: { process: { command: ["true"] }, terminated: false, backoffLimit: 0 },
    });
  });
});
