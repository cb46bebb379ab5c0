import { describe, expect, it } from "vitest";
import { kubectl, waitFor } from "@org/testkit";
import {
  createTask,
  deleteTask,
  env,
  getTask,
  listTasks,
  newNamespace,
  perTestProcesses,
  phaseIs,
  recordingSpec,
  runLog,
  taskObject,
  waitForTask,
} from "./helpers.js";

const processes = perTestProcesses();
const withExecutors = processes.executors;
const controller = processes.controller;

describe("placement over many executors", () => {
  it("spreads 50 Tasks over 3 executors and runs each once", async () => {
    const namespace = await newNamespace("spread");
    const pods = await withExecutors(namespace, 3);
    await controller();
    const log = runLog();
    await Promise.all(Array.from({ length: 50 }, (_, i) => createTask(namespace, taskObject(`t-${i}`, recordingSpec(log.path, `t-${i}`, "sleep 1")))));
    await waitFor(async () => (await listTasks(namespace)).every((task) => task.status?.phase === "Succeeded") || undefined, 90_000, 250);
    const tasks = await listTasks(namespace);
    const perPod = new Map<string, number>();
    for (const task of tasks) perPod.set(task.status!.executor!.pod, (perPod.get(task.status!.executor!.pod) ?? 0) + 1);
    expect([...perPod.keys()].sort()).toEqual(pods.map((pod) => pod.name).sort());
    for (const count of perPod.values()) expect(count).toBeGreaterThanOrEqual(10);
    expect(log.runs().sort()).toEqual(Array.from({ length: 50 }, (_, i) => `t-${i}`).sort());
  });
});

describe("executor loss", () => {
  it("ends the Tasks of a killed executor ExecutorLost, and places them again within backoffLimit", async () => {
    const namespace = await newNamespace("loss");
    const [doomed] = await withExecutors(namespace, 1);
    await controller(["--executor-lost-timeout=3s"]);
    const log = runLog();
    await createTask(namespace, taskObject("once", recordingSpec(log.path, "once", "sleep 300")));
    await createTask(namespace, taskObject("retried", { ...recordingSpec(log.path, "retried", "sleep 2"), backoffLimit: 1 }));
    await waitForTask(namespace, "once", phaseIs("Running"));
    await waitForTask(namespace, "retried", phaseIs("Running"));
    await doomed!.executor.kill();
    const [survivor] = await withExecutors(namespace, 1);
    const lost = await waitForTask(namespace, "once", phaseIs("Failed", "Succeeded"), 30_000);
    expect(lost.status).toMatchObject({ phase: "Failed", reason: "ExecutorLost", attempts: 1 });
    expect(lost.status?.message).toMatch(/not answered/);
    const retried = await waitForTask(namespace, "retried", phaseIs("Succeeded", "Failed"), 40_000);
    expect(retried.status).toMatchObject({ phase: "Succeeded", attempts: 2 });
    expect(retried.status?.executor?.pod).toBe(survivor!.name);
    expect(retried.status?.executor?.taskName).toMatch(/\.2$/);
    expect(log.runs().filter((run) => run === "once")).toHaveLength(1);
  });

  it("stops the run of a Task that ended ExecutorLost when its executor answers again", async () => {
    const namespace = await newNamespace("comeback");
    const [frozen] = await withExecutors(namespace, 1);
    await controller(["--executor-lost-timeout=3s"]);
    await createTask(namespace, taskObject("abandoned", { process: { command: ["sleep", "300"] } }));
    const running = await waitForTask(namespace, "abandoned", phaseIs("Running"));
    const executorTask = running.status!.executor!.taskName;
    // Frozen, not killed: the executor and its task live on, and answer again once thawed.
    process.kill(frozen!.executor.child.pid!, "SIGSTOP");
    try {
      const lost = await waitForTask(namespace, "abandoned", phaseIs("Failed"), 30_000);
      expect(lost.status).toMatchObject({ phase: "Failed", reason: "ExecutorLost" });
    } finally {
      process.kill(frozen!.executor.child.pid!, "SIGCONT");
    }
    await waitFor(async () => ((await frozen!.executor.client.listTasks()).some((task) => task.name === executorTask) ? undefined : true), 30_000, 250);
    expect((await getTask(namespace, "abandoned"))?.status).toMatchObject({ phase: "Failed", reason: "ExecutorLost" });
  });

  it("ends the Tasks of a deleted executor pod at once", async () => {
    const namespace = await newNamespace("podgone");
    const [pod] = await withExecutors(namespace, 1);
    await controller(["--executor-lost-timeout=60s"]);
    await createTask(namespace, taskObject("orphan", { process: { command: ["sleep", "300"] } }));
    await waitForTask(namespace, "orphan", phaseIs("Running"));
    await pod!.deletePod();
    const lost = await waitForTask(namespace, "orphan", phaseIs("Failed"), 15_000);
    expect(lost.status).toMatchObject({ reason: "ExecutorLost", message: "the executor pod was deleted" });
  });
});

describe("controller restart", () => {
  it("never runs a Task twice when the controller is killed and restarted while Tasks run", async () => {
    const namespace = await newNamespace("restart");
    await withExecutors(namespace, 2);
    let current = await controller();
    const log = runLog();
    const names = Array.from({ length: 20 }, (_, i) => `r-${i}`);
    for (const [i, name] of names.entries()) {
      await createTask(namespace, taskObject(name, recordingSpec(log.path, name, "sleep 2")));
      if (i === 7 || i === 14) {
        await current.kill();
        current = await controller();
      }
    }
    await waitFor(async () => (await listTasks(namespace)).every((task) => task.status?.phase === "Succeeded") || undefined, 90_000, 250);
    await current.kill();
    await createTask(namespace, taskObject("while-down", recordingSpec(log.path, "while-down")));
    current = await controller();
    // A restarted controller decides nothing before it knows its executors: no NoExecutor flash.
    await waitForTask(namespace, "while-down", phaseIs("Succeeded"));
    const flashes = await kubectl(env(), ["get", "events", "-n", namespace, "--field-selector", "reason=NoExecutor", "-o", "name"]);
    expect(flashes.trim()).toBe("");
    // A restarted controller rebuilds from status and listings: nothing runs again. A Task created after the
    // restart and run to its end shows the restarted controller has worked through what it found.
    await createTask(namespace, taskObject("sentinel", recordingSpec(log.path, "sentinel")));
    await waitForTask(namespace, "sentinel", phaseIs("Succeeded"));
    expect(log.runs().sort()).toEqual([...names, "while-down", "sentinel"].sort());
    for (const task of await listTasks(namespace)) expect(task.status?.attempts).toBe(1);
  });
});

describe("deleting a Task whose executor does not answer", () => {
  it("removes the finalizer after --delete-timeout, with an Event saying so", async () => {
    const namespace = await newNamespace("stuck-delete");
    const [pod] = await withExecutors(namespace, 1);
    await controller(["--delete-timeout=3s", "--executor-lost-timeout=5m"]);
    await createTask(namespace, taskObject("stuck", { process: { command: ["sleep", "300"] } }));
    await waitForTask(namespace, "stuck", phaseIs("Running"));
    await pod!.executor.kill();
    const started = Date.now();
    await deleteTask(namespace, "stuck");
    await waitFor(async () => (await getTask(namespace, "stuck")) === undefined, 30_000, 100);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
    const events = await kubectl(env(), ["get", "events", "-n", namespace, "--field-selector", "involvedObject.name=stuck,reason=CleanupTimeout", "-o", "name"]);
    expect(events.trim()).not.toBe("");
  });
});

describe("--executor-namespace", () => {
  it("places Tasks of every namespace on the executors of one namespace", async () => {
    const pool = await newNamespace("pool");
    const [pod] = await withExecutors(pool, 1);
    const tenant = await newNamespace("tenant");
    await controller([`--executor-namespace=${pool}`]);
    await createTask(tenant, taskObject("pooled", { process: { command: ["true"] } }));
    const done = await waitForTask(tenant, "pooled", phaseIs("Succeeded"));
    expect(done.status?.executor).toMatchObject({ pod: pod!.name, namespace: pool });
    expect(done.status?.executor?.taskName).toBe(`${tenant}.pooled.${done.metadata.uid}`);
  });
});
