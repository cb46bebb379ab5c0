import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ExecutorPod } from "@org/testkit";
import { createTask, executorPod, newNamespace, phaseIs, startController, taskObject, waitForTask, type ControllerProcess } from "./helpers.js";

/** The real controller's log lines while it runs one Task: JSON, with the shared field names. */
describe("controller log lines", () => {
  let namespace: string;
  let controller: ControllerProcess;
  let executor: ExecutorPod;

  beforeAll(async () => {
    namespace = await newNamespace("logs");
    executor = await executorPod(namespace);
    controller = await startController(["--log-level=debug"]);
  });
  afterAll(async () => {
    await controller?.stop();
    await executor?.stop();
  });

  it("a Task's reconciles, placement, push and end are JSON lines with event, task, executor and durationMs", async () => {
    await createTask(namespace, taskObject("logged", { process: { command: ["sh", "-c", "exit 0"] } }));
    await waitForTask(namespace, "logged", phaseIs("Succeeded", "Failed"));
    const task = `${namespace}/logged`;
    const pod = `${namespace}/${executor.name}`;
    await controller.waitForLog(new RegExp(`"event":"succeeded".*"task":"${task}"|"task":"${task}".*"event":"succeeded"`));

    const lines = controller.output.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBe(controller.output.filter((line) => line.trim() !== "").length);
    for (const line of lines) {
      expect(line).toEqual(expect.objectContaining({ level: expect.any(String), message: expect.any(String), timestamp: expect.any(String), event: expect.any(String) }));
    }
    const about = (event: string) => lines.filter((line) => line.event === event && line.task === task);
    expect(about("reconciled").length).toBeGreaterThan(0);
    for (const line of about("reconciled")) expect(line.durationMs).toEqual(expect.any(Number));
    expect(about("scheduled")).toEqual([expect.objectContaining({ level: "info", executor: pod, attempt: 1 })]);
    expect(about("succeeded")).toEqual([expect.objectContaining({ level: "info", executor: pod, phase: "Succeeded", exitCode: 0 })]);
    const pushes = lines.filter((line) => line.event === "pushed" && line.executor === pod);
    expect(pushes.length).toBeGreaterThan(0);
    for (const line of pushes) expect(line.durationMs).toEqual(expect.any(Number));
  });
});
