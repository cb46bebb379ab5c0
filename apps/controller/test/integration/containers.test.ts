import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { announceSkip, BUSYBOX_IMAGE, containerdSkipReason, startContainerd, type ContainerdEnv, type ExecutorPod } from "@org/testkit";
import { createTask, executorPod, newNamespace, phaseIs, startController, taskObject, waitForTask, type ControllerProcess } from "./helpers.js";

const skip = containerdSkipReason();
if (skip) announceSkip(skip, "controller container-task tests");

/** A container Task that runs `script` in busybox. */
function busyboxTask(name: string, script: string) {
  return taskObject(name, { container: { image: BUSYBOX_IMAGE, command: ["sh", "-c"], args: [script] } });
}

describe.skipIf(skip)("container Tasks through the controller, on an executor pod in container mode with a real containerd", () => {
  let namespace: string;
  let containerd: ContainerdEnv;
  let processOnly: ExecutorPod;
  let containers: ExecutorPod;
  let controller: ControllerProcess;

  beforeAll(async () => {
    containerd = await startContainerd();
    namespace = await newNamespace("containers");
    // A process-only executor next to it, which would win the placement's tie-break (by pod name): the container
    // Tasks must still go to the one that runs containers.
    processOnly = await executorPod(namespace, { name: "a-process-only" });
    containers = await executorPod(namespace, {
      name: "containers",
      executor: { args: ["--enable-container-mode=true", `--cri-socket=${containerd.socketPath}`, "--stop-grace-period=2s"] },
    });
    controller = await startController();
  }, 300_000);
  afterAll(async () => {
    await controller?.stop();
    await containers?.stop();
    await processOnly?.stop();
    await containerd?.stop();
  });

  it("runs to Succeeded on the container-mode executor, with the container's output in its logs", async () => {
    await createTask(namespace, busyboxTask("boxed", "echo from a container"));
    const done = await waitForTask(namespace, "boxed", phaseIs("Succeeded", "Failed"), 120_000);
    expect(done.status).toMatchObject({ phase: "Succeeded", exitCode: 0, reason: "Succeeded" });
    expect(done.status?.executor?.pod).toBe(containers.name);
    const taskName = done.status!.executor!.taskName;
    expect((await containers.executor.client.getTask(taskName)).spec.container?.image).toBe(BUSYBOX_IMAGE);
    expect((await containers.executor.client.logs(taskName)).toString()).toBe("from a container\n");
    expect((await processOnly.executor.client.listTasks()).map((task) => task.name)).not.toContain(taskName);
  });

  it("ends Failed with the container's exit code", async () => {
    await createTask(namespace, busyboxTask("boxed-fails", "exit 3"));
    const done = await waitForTask(namespace, "boxed-fails", phaseIs("Succeeded", "Failed"), 120_000);
    expect(done.status).toMatchObject({ phase: "Failed", exitCode: 3, reason: "Failed" });
    expect(done.status?.executor?.pod).toBe(containers.name);
  });
});
