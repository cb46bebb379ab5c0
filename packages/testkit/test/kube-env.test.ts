import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../src/executor.js";
import { EXECUTOR_POD_LABEL, EXECUTOR_PORT_ANNOTATION, podProxyPath, startExecutorPod, type ExecutorPod } from "../src/executor-pods.js";
import { createTestNamespace, kubectl, kubeTestEnvFromEnv, type KubeTestEnv } from "../src/kube-env.js";

const run = promisify(execFile);

function isNotFound(error: unknown): boolean {
  return (error as { code?: number }).code === 404;
}

function readyCondition(pod: { status?: { conditions?: Array<{ type: string; status: string }> } }): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === "Ready")?.status;
}

describe("Kubernetes test environment", () => {
  let env: KubeTestEnv;
  let namespace: string;
  let pod: ExecutorPod | undefined;

  beforeAll(async () => {
    env = kubeTestEnvFromEnv();
    namespace = await createTestNamespace(env, "testkit");
  });

  afterAll(async () => {
    await pod?.stop();
  });

  it("serves the API with the admin kubeconfig", async () => {
    expect(await kubectl(env, ["get", "--raw", "/readyz"])).toBe("ok");
    const version = JSON.parse(await kubectl(env, ["version", "-o", "json"])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toBe("v1.32.13");
  });

  it("reaches an executor pod's /health through the API server's pod proxy", async () => {
    pod = await startExecutorPod(env, { namespace, name: "executor-0" });
    const stored = await env.core().readNamespacedPod({ namespace, name: "executor-0" });
    expect(stored.metadata?.labels?.[EXECUTOR_POD_LABEL]).toBe("true");
    expect(stored.metadata?.annotations?.[EXECUTOR_PORT_ANNOTATION]).toBe(String(pod.port));
    expect(stored.status?.phase).toBe("Running");
    expect(stored.status?.podIP).toBe(pod.podIP);
    expect(readyCondition(stored)).toBe("True");

    const health = JSON.parse(await kubectl(env, ["get", "--raw", podProxyPath(namespace, pod.name, pod.port, "/health")])) as { status: string };
    expect(health.status).toBe("healthy");

    // A task created through the proxy runs in the executor behind the pod.
    const created = await pod.executor.client.createTask({ name: "through-netns", spec: { process: { command: ["true"] } } });
    expect(created.name).toBe("through-netns");
    const listed = JSON.parse(await kubectl(env, ["get", "--raw", podProxyPath(namespace, pod.name, pod.port, "/getTasks")])) as Array<{ name: string }>;
    expect(listed.map((task) => task.name)).toContain("through-netns");
  });

  it("flips an executor pod's Ready condition", async () => {
    expect(pod).toBeDefined();
    const before = await env.core().readNamespacedPod({ namespace, name: pod!.name });
    await pod!.setReady(false);
    let stored = await env.core().readNamespacedPod({ namespace, name: pod!.name });
    expect(readyCondition(stored)).toBe("False");
    expect(stored.status?.podIP).toBe(pod!.podIP);
    expect(stored.status?.startTime).toEqual(before.status?.startTime);
    await pod!.setReady(true);
    stored = await env.core().readNamespacedPod({ namespace, name: pod!.name });
    expect(readyCondition(stored)).toBe("True");
  });

  it("deletes an executor pod at once (no kubelet needed) while its executor keeps running", async () => {
    const second = await startExecutorPod(env, { namespace, name: "executor-1", nodeName: "test-node-2" });
    try {
      const stored = await env.core().readNamespacedPod({ namespace, name: "executor-1" });
      expect(stored.spec?.nodeName).toBe("test-node-2");
      await second.deletePod();
      await expect(env.core().readNamespacedPod({ namespace, name: "executor-1" })).rejects.toMatchObject({ code: 404 });
      expect((await second.executor.client.health()).status).toBe("healthy");
    } finally {
      await second.stop();
    }
  });

  it("garbage-collects a dependent when its owner is deleted", async () => {
    const core = env.core();
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: "owner" }, data: { a: "1" } } });
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: "dependent",
          ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata!.uid! }],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: "owner" });
    await waitFor(
      () => core.readNamespacedConfigMap({ namespace, name: "dependent" }).then(() => false, (error: unknown) => isNotFound(error) || false),
      60_000,
      200,
    );
  });

  it("deletes a namespace with its executor pod, and the network namespace goes with the executor", async () => {
    const core = env.core();
    await core.deleteNamespace({ name: namespace });
    await waitFor(
      () => core.readNamespace({ name: namespace }).then(() => false, (error: unknown) => isNotFound(error) || false),
      90_000,
      250,
    );
    await expect(core.readNamespacedPod({ namespace, name: "executor-0" })).rejects.toMatchObject({ code: 404 });

    const netnsName = pod!.netns.name;
    await pod!.stop();
    pod = undefined;
    const { stdout } = await run("ip", ["netns", "list"]);
    expect(stdout.split("\n").map((line) => line.split(" ")[0])).not.toContain(netnsName);
  });
});
