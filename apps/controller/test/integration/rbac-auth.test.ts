import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { kubectl, waitFor, type ExecutorPod } from "@org/testkit";
import { createTask, env, executorPod, phaseIs, startController, taskObject, waitForTask, type ControllerProcess } from "./helpers.js";

const DEPLOY = new URL("../../../../deploy/", import.meta.url).pathname;
const SYSTEM_NAMESPACE = "task-system";

/** A kubeconfig for the controller's ServiceAccount: the same server and CA, the account's token. */
async function serviceAccountKubeconfig(): Promise<string> {
  const core = env().core();
  const token = await core.createNamespacedServiceAccountToken({ namespace: SYSTEM_NAMESPACE, name: "task-controller", body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const admin = env().kubeConfig();
  const cluster = admin.getCurrentCluster()!;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server: cluster.server, ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}), ...(cluster.caFile ? { "certificate-authority": cluster.caFile } : {}) } }],
    users: [{ name: "task-controller", user: { token: token.status!.token } }],
    contexts: [{ name: "test", context: { cluster: "test", user: "task-controller" } }],
    "current-context": "test",
  };
  const path = join(mkdtempSync(join(tmpdir(), "sa-kubeconfig-")), "kubeconfig");
  writeFileSync(path, JSON.stringify(config));
  return path;
}

describe("the controller with the RBAC of deploy/rbac and an executor token from a Secret", () => {
  let controller: ControllerProcess;
  let executor: ExecutorPod;
  let namespace: string;

  beforeAll(async () => {
    await kubectl(env(), ["create", "namespace", SYSTEM_NAMESPACE]).catch(() => undefined);
    await kubectl(env(), ["apply", "-f", join(DEPLOY, "rbac")]);
    const tokenDir = mkdtempSync(join(tmpdir(), "executor-token-"));
    writeFileSync(join(tokenDir, "tokens"), "s3cret-executor-token\n");
    await kubectl(env(), ["create", "secret", "generic", "task-executor-token", "-n", SYSTEM_NAMESPACE, `--from-file=token=${join(tokenDir, "tokens")}`]);
    namespace = `rbac-${Math.random().toString(36).slice(2, 8)}`;
    await kubectl(env(), ["create", "namespace", namespace]);
    await kubectl(env(), ["wait", "--for=jsonpath={.metadata.name}=default", "serviceaccount/default", "-n", namespace, "--timeout=30s"]);
    executor = await executorPod(namespace, { executor: { args: [`--auth-token-file=${join(tokenDir, "tokens")}`], token: readFileSync(join(tokenDir, "tokens"), "utf8").trim() } });
    controller = await startController([
      `--kubeconfig=${await serviceAccountKubeconfig()}`,
      "--leader-elect=true",
      `--leader-election-namespace=${SYSTEM_NAMESPACE}`,
      `--executor-token-secret=${SYSTEM_NAMESPACE}/task-executor-token`,
    ]);
  });
  afterAll(async () => {
    await controller?.stop();
    await executor?.stop();
  });

  it("runs Tasks and schedules with only the permissions the manifests grant, sending the token", async () => {
    await createTask(namespace, taskObject("authorized", { process: { command: ["sh", "-c", "exit 4"] } }));
    const done = await waitForTask(namespace, "authorized", phaseIs("Failed", "Succeeded"));
    expect(done.status).toMatchObject({ phase: "Failed", exitCode: 4 });
    const events = await kubectl(env(), ["get", "events", "-n", namespace, "--field-selector", "involvedObject.name=authorized", "-o", "name"]);
    expect(events.trim().split("\n").length).toBeGreaterThanOrEqual(2);
    const lease = await env().kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "task-controller", namespace: SYSTEM_NAMESPACE });
    expect(lease.spec?.holderIdentity).toBeTruthy();
    // A schedule's run carries an owner reference that blocks its owner's deletion: that needs its own permission.
    await kubectl(env(), ["apply", "-n", namespace, "-f", "-"], {
      input: JSON.stringify({ apiVersion: "tasks.org.dev/v1alpha1", kind: "TaskSchedule", metadata: { name: "every-second" }, spec: { schedule: "* * * * * *", taskTemplate: { spec: { process: { command: ["true"] } } } } }),
    });
    const run = await waitFor(async () => {
      const runs = JSON.parse(await kubectl(env(), ["get", "tasks", "-n", namespace, "-l", "tasks.org.dev/schedule=every-second", "-o", "json"])).items;
      return runs.find((item: { status?: { phase?: string } }) => item.status?.phase === "Succeeded");
    }, 30_000, 250);
    expect(run.metadata.ownerReferences[0].kind).toBe("TaskSchedule");
    await kubectl(env(), ["patch", "taskschedule", "every-second", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}']);
    expect(controller.output.filter((line) => /forbidden|\b403\b/i.test(line))).toEqual([]);
  });

  it("the executor refuses the controller without the token", async () => {
    const response = await fetch(`${executor.url}/getTasks`);
    expect(response.status).toBe(401);
  });
});
