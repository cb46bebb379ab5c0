import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEANUP_FINALIZER } from "@org/task-api";
import { kubectl, waitFor, type ExecutorPod } from "@org/testkit";
import {
  createTask,
  deleteTask,
  env,
  executorPod,
  getTask,
  newNamespace,
  patchTaskSpec,
  phaseIs,
  startController,
  taskObject,
  waitForTask,
  type ControllerProcess,
} from "./helpers.js";

describe("Tasks on executor pods", () => {
  let namespace: string;
  let controller: ControllerProcess;
  let executor: ExecutorPod;

  beforeAll(async () => {
    namespace = await newNamespace("tasks");
    executor = await executorPod(namespace);
    controller = await startController(["--metrics-addr=127.0.0.1:0"]);
  });
  afterAll(async () => {
    await controller?.stop();
    await executor?.stop();
  });

  it("runs a Task to Succeeded with its exit code, placement and condition", async () => {
    await createTask(namespace, taskObject("hello", { process: { command: ["sh", "-c", "echo hello; sleep 1"] } }));
    const done = await waitForTask(namespace, "hello", phaseIs("Succeeded", "Failed"));
    expect(done.status).toMatchObject({ phase: "Succeeded", exitCode: 0, reason: "Succeeded", attempts: 1 });
    expect(done.status?.executor).toMatchObject({ pod: executor.name, address: `${executor.podIP}:${executor.port}` });
    expect(done.status?.executor?.taskName).toBe(`${namespace}.hello.${done.metadata.uid}`);
    expect(done.status?.startTime).toBeTruthy();
    expect(done.status?.completionTime).toBeTruthy();
    expect(done.status?.duration).toMatch(/^\d+(ms|s)$/);
    expect(done.status?.conditions).toEqual([expect.objectContaining({ type: "Succeeded", status: "True" })]);
    expect(done.metadata.finalizers).toContain(CLEANUP_FINALIZER);
    const onExecutor = await executor.executor.client.getTask(done.status!.executor!.taskName);
    expect(onExecutor.status.state).toMatchObject({ terminated: { exitCode: 0 } });
    const logs = await executor.executor.client.logs(done.status!.executor!.taskName);
    expect(logs.toString()).toBe("hello\n");
  });

  it("ends a failing Task Failed with the exit code and reason kept", async () => {
    await createTask(namespace, taskObject("fails", { process: { command: ["sh", "-c", "exit 3"] } }));
    const done = await waitForTask(namespace, "fails", phaseIs("Succeeded", "Failed"));
    expect(done.status).toMatchObject({ phase: "Failed", exitCode: 3, reason: "Failed" });
    expect(done.status?.conditions?.[0]).toMatchObject({ status: "False", reason: "Failed" });
    await createTask(namespace, taskObject("missing-binary", { process: { command: ["/no/such/binary"] } }));
    const start = await waitForTask(namespace, "missing-binary", phaseIs("Succeeded", "Failed"));
    expect(start.status).toMatchObject({ phase: "Failed", exitCode: 127, reason: "StartError" });
  });

  it("cancels a running Task with terminated: true", async () => {
    await createTask(namespace, taskObject("long", { process: { command: ["sleep", "300"] } }));
    await waitForTask(namespace, "long", phaseIs("Running"));
    await patchTaskSpec(namespace, "long", { terminated: true });
    const done = await waitForTask(namespace, "long", phaseIs("Cancelled", "Failed", "Succeeded"));
    expect(done.status).toMatchObject({ phase: "Cancelled", reason: "Cancelled", exitCode: 143 });
  });

  it("cancels a Task terminated before it was placed without running it", async () => {
    await createTask(namespace, taskObject("never", { process: { command: ["true"] }, terminated: true }));
    const done = await waitForTask(namespace, "never", phaseIs("Cancelled", "Failed", "Succeeded"));
    expect(done.status).toMatchObject({ phase: "Cancelled" });
    expect(done.status?.executor).toBeUndefined();
    expect(done.status?.exitCode).toBeUndefined();
  });

  it("deletes a Task only after the executor dropped it (finalizer)", async () => {
    await createTask(namespace, taskObject("to-delete", { process: { command: ["sleep", "300"] } }));
    const running = await waitForTask(namespace, "to-delete", phaseIs("Running"));
    const taskName = running.status!.executor!.taskName;
    await deleteTask(namespace, "to-delete");
    await waitFor(async () => (await getTask(namespace, "to-delete")) === undefined, 30_000, 100);
    const left = await executor.executor.client.listTasks();
    expect(left.map((task) => task.name)).not.toContain(taskName);
  });

  it("serves /healthz, /readyz and Prometheus /metrics", async () => {
    expect((await fetch(`${controller.healthUrl}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${controller.healthUrl}/readyz`)).json()).toMatchObject({ ready: true, role: "leader", synced: true });
    const address = /"address":"([^"]+)"/.exec(await controller.waitForLog(/"server":"metrics"/))![1];
    const metrics = await (await fetch(`http://${address}/metrics`)).text();
    expect(metrics).toMatch(/^task_controller_reconciles_total\{kind="task",result="ok"\} [1-9]/m);
    expect(metrics).toMatch(/^task_controller_placements_total [1-9]/m);
    expect(metrics).toMatch(/^task_controller_tasks\{phase="Succeeded"\} [1-9]/m);
    expect(metrics).toMatch(/^task_controller_leader 1$/m);
  });

  it("refuses a Task without a command at the API server", async () => {
    const manifest = JSON.stringify(taskObject("bad", { process: { command: [] } }));
    await expect(kubectl(env(), ["apply", "-n", namespace, "-f", "-"], { input: manifest })).rejects.toThrow(/command/);
    const both = JSON.stringify(taskObject("both", { process: { command: ["true"] }, container: { image: "busybox" } }));
    await expect(kubectl(env(), ["apply", "-n", namespace, "-f", "-"], { input: both })).rejects.toThrow(/exactly one of 'process' or 'container'/);
    // What runs is fixed once the Task exists; cancelling stays possible.
    await kubectl(env(), ["patch", "task", "hello", "-n", namespace, "--type=merge", "-p", '{"spec":{"process":{"command":["false"]}}}']).then(
      () => expect.unreachable("the API server accepted a changed command"),
      (error: Error) => expect(error.message).toMatch(/process is immutable/),
    );
  });

  it("shows NAME, PHASE, EXIT, REASON, EXECUTOR, AGE, DURATION in kubectl get tasks", async () => {
    const table = await kubectl(env(), ["get", "tasks", "-n", namespace]);
    const [header, ...rows] = table.trim().split("\n");
    expect(header!.split(/\s+/)).toEqual(["NAME", "PHASE", "EXIT", "REASON", "EXECUTOR", "AGE", "DURATION"]);
    const fails = rows.find((row) => row.startsWith("fails "))?.split(/\s+/);
    expect(fails, table).toBeDefined();
    expect(fails!.slice(0, 5)).toEqual(["fails", "Failed", "3", "Failed", executor.name]);
    expect(fails![6]).toMatch(/^\d+(ms|s)$/);
  });
});

describe("Tasks no executor can run", () => {
  let namespace: string;
  let controller: ControllerProcess;
  const pods: ExecutorPod[] = [];

  beforeAll(async () => {
    namespace = await newNamespace("pending");
    controller = await startController();
  });
  afterAll(async () => {
    await controller?.stop();
    for (const pod of pods) await pod.stop();
  });

  it("stay Pending with NoExecutor and an Event, and are placed once an executor appears", async () => {
    await createTask(namespace, taskObject("waits", { process: { command: ["true"] } }));
    const pending = await waitForTask(namespace, "waits", (task) => task.status?.reason === "NoExecutor");
    expect(pending.status).toMatchObject({ phase: "Pending", reason: "NoExecutor" });
    await waitFor(async () => (await kubectl(env(), ["get", "events", "-n", namespace, "--field-selector", "involvedObject.name=waits"])).includes("NoExecutor"), 10_000, 200);
    await createTask(namespace, taskObject("container-task", { container: { image: "busybox" } }));
    pods.push(await executorPod(namespace));
    const done = await waitForTask(namespace, "waits", phaseIs("Succeeded"));
    expect(done.status?.executor?.pod).toBe(pods[0]!.name);
    // A process-only executor cannot run a container task: it stays Pending.
    const container = await waitForTask(namespace, "container-task", (task) => task.status?.reason === "NoExecutor" && /container/.test(task.status?.message ?? ""));
    expect(container.status?.phase).toBe("Pending");
  });

  it("are not placed on executors the selector excludes", async () => {
    await createTask(namespace, taskObject("picky", { process: { command: ["true"] }, executorSelector: { matchLabels: { pool: "gpu" } } }));
    const pending = await waitForTask(namespace, "picky", (task) => task.status?.reason === "NoExecutor");
    expect(pending.status?.message).toMatch(/executorSelector/);
    pods.push(await executorPod(namespace, { labels: { pool: "gpu" } }));
    const done = await waitForTask(namespace, "picky", phaseIs("Succeeded"));
    expect(done.status?.executor?.pod).toBe(pods[1]!.name);
  });
});
