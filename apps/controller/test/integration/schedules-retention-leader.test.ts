import { describe, expect, it } from "vitest";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import { SCHEDULE_LABEL, TASK_API_VERSION, TASK_GROUP, TASK_SCHEDULE_KIND, TASK_SCHEDULE_PLURAL, TASK_VERSION, type TaskResource, type TaskScheduleResource } from "@org/task-api";
import { kubectl, waitFor } from "@org/testkit";
import {
  createTask,
  env,
  getTask,
  listTasks,
  newNamespace,
  perTestProcesses,
  phaseIs,
  taskObject,
  waitForTask,
} from "./helpers.js";

const processes = perTestProcesses();
const controller = processes.controller;

async function namespaceWithExecutor(prefix: string): Promise<string> {
  const namespace = await newNamespace(prefix);
  await processes.executors(namespace, 1);
  return namespace;
}

function schedule(name: string, spec: Record<string, unknown>): TaskScheduleResource {
  return { apiVersion: TASK_API_VERSION, kind: TASK_SCHEDULE_KIND, metadata: { name }, spec } as TaskScheduleResource;
}

const api = () => env().customObjects();
const createSchedule = (namespace: string, body: TaskScheduleResource) =>
  api().createNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_SCHEDULE_PLURAL, namespace, body });
const getSchedule = (namespace: string, name: string): Promise<TaskScheduleResource> =>
  api().getNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_SCHEDULE_PLURAL, namespace, name });
const patchSchedule = (namespace: string, name: string, spec: Record<string, unknown>) =>
  api().patchNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_SCHEDULE_PLURAL, namespace, name, body: { spec } }, setHeaderOptions("Content-Type", PatchStrategy.MergePatch));

const runsOf = async (namespace: string, name: string): Promise<TaskResource[]> =>
  (await listTasks(namespace)).filter((task) => task.metadata.labels?.[SCHEDULE_LABEL] === name);

/** [start, end] in ms of each run that started. */
const intervals = (runs: TaskResource[]) =>
  runs.filter((run) => run.status?.startTime).map((run) => [Date.parse(run.status!.startTime!), Date.parse(run.status!.completionTime ?? new Date().toISOString())] as const);

describe("TaskSchedules (seconds-level cron)", () => {
  it("Always: creates a run per scheduled time, named by it, owned by the schedule", async () => {
    const namespace = await namespaceWithExecutor("sched-always");
    await controller();
    await createSchedule(namespace, schedule("tick", { schedule: "*/2 * * * * *", concurrencyPolicy: "Always", taskTemplate: { metadata: { labels: { "app.kubernetes.io/name": "ticker" } }, spec: { process: { command: ["true"] } } } }));
    const runs = await waitFor(async () => {
      const found = await runsOf(namespace, "tick");
      return found.filter((run) => run.status?.phase === "Succeeded").length >= 3 ? found : undefined;
    }, 30_000, 250);
    const owner = await getSchedule(namespace, "tick");
    for (const run of runs) {
      expect(run.metadata.name).toMatch(/^tick-\d{10}$/);
      expect(Number(run.metadata.name!.slice(5)) % 2).toBe(0);
      expect(run.metadata.ownerReferences?.[0]).toMatchObject({ kind: TASK_SCHEDULE_KIND, uid: owner.metadata.uid, controller: true });
      expect(run.metadata.labels?.["app.kubernetes.io/name"]).toBe("ticker");
    }
    expect(owner.status?.lastScheduleTime).toBeTruthy();
    await waitFor(async () => (await getSchedule(namespace, "tick")).status?.lastSuccessfulTime, 10_000, 200);
    // Deleting the schedule deletes its runs (owner references, garbage collector).
    await api().deleteNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, plural: TASK_SCHEDULE_PLURAL, namespace, name: "tick" });
    await waitFor(async () => (await runsOf(namespace, "tick")).length === 0, 30_000, 250);
  });

  it("Forbid: a due run waits while one is active, so runs never overlap", async () => {
    const namespace = await namespaceWithExecutor("sched-forbid");
    await controller();
    await createSchedule(namespace, schedule("solo", { schedule: "* * * * * *", concurrencyPolicy: "Forbid", taskTemplate: { spec: { process: { command: ["sleep", "2.5"] } } } }));
    await waitFor(async () => (await runsOf(namespace, "solo")).filter((run) => run.status?.phase === "Succeeded").length >= 2, 30_000, 250);
    await patchSchedule(namespace, "solo", { suspend: true });
    const spans = intervals(await runsOf(namespace, "solo")).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    // Far fewer runs than seconds passed: the due runs waited.
    const seconds = (spans.at(-1)![1] - spans[0]![0]) / 1000;
    expect(spans.length).toBeLessThan(seconds);
  });

  it("Replace: a due run cancels the active one", async () => {
    const namespace = await namespaceWithExecutor("sched-replace");
    await controller();
    await createSchedule(namespace, schedule("latest", { schedule: "*/3 * * * * *", concurrencyPolicy: "Replace", taskTemplate: { spec: { process: { command: ["sleep", "300"] } } } }));
    const replaced = await waitFor(async () => (await runsOf(namespace, "latest")).find((run) => run.status?.phase === "Cancelled"), 30_000, 250);
    expect(replaced.spec.terminated).toBe(true);
    const active = (await getSchedule(namespace, "latest")).status?.active ?? [];
    expect(active.length).toBe(1);
    await patchSchedule(namespace, "latest", { suspend: true });
  });

  it("suspend stops runs; on resume only the most recent missed run fires", async () => {
    const namespace = await namespaceWithExecutor("sched-suspend");
    await controller();
    await createSchedule(namespace, schedule("paused", { schedule: "* * * * * *", suspend: true, taskTemplate: { spec: { process: { command: ["true"] } } } }));
    await waitFor(async () => (await getSchedule(namespace, "paused")).status?.conditions?.some((c) => c.reason === "Suspended"), 10_000, 200);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await runsOf(namespace, "paused")).toHaveLength(0);
    const resumedMs = Date.now();
    await patchSchedule(namespace, "paused", { suspend: false });
    const runs = await waitFor(async () => {
      const found = await runsOf(namespace, "paused");
      return found.length > 0 ? found : undefined;
    }, 15_000, 200);
    await patchSchedule(namespace, "paused", { suspend: true });
    // The seconds missed while suspended do not fire: the first run is of the most recent second at resume.
    const seconds = runs.map((run) => Number(run.metadata.name!.split("-").pop()));
    expect(Math.min(...seconds)).toBeGreaterThanOrEqual(Math.floor(resumedMs / 1000) - 1);
  });

  it("refuses an invalid schedule at the API server", async () => {
    const namespace = await newNamespace("sched-bad");
    const manifest = JSON.stringify({ ...schedule("bad", { schedule: "* * *", taskTemplate: { spec: { process: { command: ["true"] } } } }), metadata: { name: "bad", namespace } });
    await expect(kubectl(env(), ["apply", "-f", "-"], { input: manifest })).rejects.toThrow(/5 fields/);
  });
});

describe("retention", () => {
  it("keeps the newest --task-retention-count Tasks per app and never deletes unfinished ones", async () => {
    const namespace = await namespaceWithExecutor("retention");
    await controller(["--task-retention-count=3"]);
    await createTask(namespace, taskObject("keeps-running", { process: { command: ["sleep", "300"] } }, { "app.kubernetes.io/name": "batch" }));
    await waitForTask(namespace, "keeps-running", phaseIs("Running"));
    for (let i = 0; i < 6; i++) {
      await createTask(namespace, taskObject(`job-${i}`, { process: { command: ["true"] } }, { "app.kubernetes.io/name": "batch" }));
      await waitForTask(namespace, `job-${i}`, phaseIs("Succeeded"));
      // Creation times have a resolution of one second; a second apart keeps the order unambiguous.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    await createTask(namespace, taskObject("other-app", { process: { command: ["true"] } }, { "app.kubernetes.io/name": "other" }));
    await waitFor(async () => (await listTasks(namespace)).filter((task) => task.metadata.labels?.["app.kubernetes.io/name"] === "batch").length === 3, 20_000, 200);
    const names = (await listTasks(namespace)).map((task) => task.metadata.name).sort();
    expect(names).toEqual(["job-4", "job-5", "keeps-running", "other-app"].sort());
    expect(await getTask(namespace, "keeps-running")).toBeDefined();
  });
});

describe("leader election", () => {
  it("only the leader reconciles; a standby takes over when the leader dies", async () => {
    const namespace = await namespaceWithExecutor("leader");
    const lease = ["--leader-elect=true", `--leader-election-namespace=${namespace}`, "--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s", "--leader-elect-retry-period=500ms"];
    const first = await controller([...lease, "--identity=first"]);
    const second = await controller([...lease, "--identity=second"], { waitFor: "started" });
    const standbyReady = await fetch(`${second.healthUrl}/readyz`).then((response) => response.json());
    expect(standbyReady).toMatchObject({ role: "standby" });
    await createTask(namespace, taskObject("by-first", { process: { command: ["true"] } }));
    await waitForTask(namespace, "by-first", phaseIs("Succeeded"));
    expect(second.output.some((line) => /"message":"leading"/.test(line))).toBe(false);
    const holder = await env().kubeConfig().makeApiClient((await import("@kubernetes/client-node")).CoordinationV1Api).readNamespacedLease({ name: "task-controller", namespace });
    expect(holder.spec?.holderIdentity).toBe("first");
    await first.kill();
    await second.waitForLog(/"message":"leading"/, 20_000);
    await second.waitForLog(/informers synced/, 20_000);
    await createTask(namespace, taskObject("by-second", { process: { command: ["true"] } }));
    await waitForTask(namespace, "by-second", phaseIs("Succeeded"));
  });
});
