import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import {
  coreApi,
  kubeTestEnvFromEnv,
  kubectl,
  podProxyPath,
  startMainContainer,
  startNetnsExecutor,
  waitFor,
  type MainContainerFixture,
  type NetnsExecutor,
} from "@org/testkit";
import { DEPLOY_DIR, flagValue, packageBin, parseManifests, render, type Manifest } from "./deploy.js";

const env = () => kubeTestEnvFromEnv();
const CONTROLLER_BIN = packageBin("@org/controller", "task-controller");
const NODE_NAME = "deploy-test-node";

/** A kubeconfig with the token of a ServiceAccount: the controller then has exactly what deploy/rbac grants. */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const token = await env().core().createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const cluster = env().kubeConfig().getCurrentCluster()!;
  const path = join(mkdtempSync(join(tmpdir(), "deploy-sa-")), "kubeconfig");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster: { server: cluster.server, ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}), ...(cluster.caFile ? { "certificate-authority": cluster.caFile } : {}) } }],
      users: [{ name, user: { token: token.status!.token } }],
      contexts: [{ name: "test", context: { cluster: "test", user: name } }],
      "current-context": "test",
    }),
  );
  return path;
}

/** The controller binary with the args of the rendered Deployment, `$(VAR)` expanded as the kubelet does. */
function startController(args: string[], vars: Record<string, string>): { child: ChildProcess; output: string[]; waitFor(pattern: RegExp, timeoutMs?: number): Promise<string> } {
  const expanded = args.map((arg) => arg.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (whole, name: string) => vars[name] ?? whole));
  const child = spawn(process.execPath, [CONTROLLER_BIN, ...expanded], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...vars } });
  const output: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => output.push(line));
  createInterface({ input: child.stderr! }).on("line", (line) => output.push(line));
  return {
    child,
    output,
    waitFor: (pattern, timeoutMs = 60_000) =>
      waitFor(() => {
        if (child.exitCode !== null) throw new Error(`the controller exited with ${child.exitCode}:\n${output.slice(-30).join("\n")}`);
        return output.find((line) => pattern.test(line));
      }, timeoutMs, 100).catch((error: Error) => {
        throw new Error(`${error.message}; controller output:\n${output.slice(-30).join("\n")}`);
      }),
  };
}

describe("the sidecar example, applied for real, runs a Task through the controller", () => {
  let pod: Manifest;
  let deployment: Manifest;
  let main: MainContainerFixture | undefined;
  let executor: NetnsExecutor | undefined;
  let controller: ReturnType<typeof startController> | undefined;
  let token: string;

  beforeAll(async () => {
    // The whole installation (CRDs, RBAC, namespace, token, controller Deployment), then the example.
    await kubectl(env(), ["apply", "-k", DEPLOY_DIR]);
    await kubectl(env(), ["apply", "-k", join(DEPLOY_DIR, "examples/sidecar")]);
    deployment = parseManifests(await render(env(), ".")).find((m) => m.kind === "Deployment" && m.metadata.name === "task-controller")!;
    const rendered = parseManifests(await render(env(), "examples/sidecar")).find((m) => m.kind === "Pod")!;
    pod = JSON.parse(await kubectl(env(), ["get", "pod", rendered.metadata.name, "-n", rendered.metadata.namespace!, "-o", "json"]));
    const secret = await env().core().readNamespacedSecret({ namespace: pod.metadata.namespace!, name: "task-executor-token" });
    token = Buffer.from(secret.data!.token!, "base64").toString("utf8").trim();
  });

  afterAll(async () => {
    controller?.child.kill("SIGTERM");
    await executor?.close();
    await main?.stop();
  });

  it("places the Task on the pod, runs it inside the main container and records the outcome", async () => {
    const namespace = pod.metadata.namespace!;
    const sidecar = pod.spec.containers.find((c: any) => c.name === "task-executor");
    const mainContainer = pod.spec.containers.find((c: any) => c.name !== "task-executor");
    const args: string[] = sidecar.args;
    const port = Number(pod.metadata.annotations!["tasks.org.dev/executor-port"]);
    expect(flagValue(args, "listen-addr")).toBe(`0.0.0.0:${port}`);

    // The main container: a process in its own namespaces carrying SANDBOX_MAIN_CONTAINER. Its name is made
    // unique on this machine (other suites start main containers too), in the env and the flag alike.
    const mainName = flagValue(args, "main-container-name")!;
    expect(mainContainer.env).toContainEqual({ name: "SANDBOX_MAIN_CONTAINER", value: mainName });
    main = await startMainContainer({ name: `${mainName}-${Math.random().toString(36).slice(2, 8)}` });

    // The executor with the sidecar's own flags; only the paths of its volumes are local ones, and it listens
    // on the pod IP (a network namespace) at the annotated port.
    const tokenFile = join(mkdtempSync(join(tmpdir(), "deploy-token-")), "token");
    writeFileSync(tokenFile, `${token}\n`);
    const dataDir = mkdtempSync(join(tmpdir(), "deploy-sidecar-data-"));
    const localArgs = args
      .filter((arg) => !arg.startsWith("--listen-addr="))
      .map((arg) => {
        if (arg.startsWith("--main-container-name=")) return `--main-container-name=${main!.name}`;
        if (arg.startsWith("--data-dir=")) return `--data-dir=${dataDir}`;
        if (arg.startsWith("--auth-token-file=")) return `--auth-token-file=${tokenFile}`;
        return arg;
      });
    executor = await startNetnsExecutor({ args: localArgs, dataDir, token, port });
    const health = await (await fetch(`${executor.executor.url}/health`)).json();
    expect(health).toMatchObject({ status: "healthy", auth: "enabled", sidecar: true });

    // What the scheduler and the kubelet would do: bind the pod to a node, report it Running and Ready.
    const core = coreApi(env());
    await core.createNamespacedPodBinding({
      namespace,
      name: pod.metadata.name,
      body: { apiVersion: "v1", kind: "Binding", metadata: { name: pod.metadata.name }, target: { apiVersion: "v1", kind: "Node", name: NODE_NAME } },
    });
    const now = new Date().toISOString();
    await core.patchNamespacedPodStatus(
      {
        namespace,
        name: pod.metadata.name,
        body: {
          status: {
            phase: "Running",
            podIP: executor.address,
            podIPs: [{ ip: executor.address }],
            hostIP: executor.netns.hostAddress,
            hostIPs: [{ ip: executor.netns.hostAddress }],
            startTime: now,
            conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) => ({ type, status: "True", lastTransitionTime: now })),
            containerStatuses: pod.spec.containers.map((c: any) => ({ name: c.name, image: c.image, imageID: "", ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } })),
          },
        },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    // The liveness probe's path answers through the API server's proxy to the pod IP.
    const probe = JSON.parse(await kubectl(env(), ["get", "--raw", podProxyPath(namespace, pod.metadata.name, port, sidecar.livenessProbe.httpGet.path)]));
    expect(probe.status).toBe("healthy");

    // The controller with the Deployment's flags, as its ServiceAccount; servers on loopback for the test.
    const container = deployment.spec.template.spec.containers[0];
    const controllerArgs = (container.args as string[]).filter((arg) => !/^--(health|metrics)-addr=/.test(arg));
    controller = startController(
      [...controllerArgs, `--kubeconfig=${await serviceAccountKubeconfig(deployment.metadata.namespace!, deployment.spec.template.spec.serviceAccountName)}`, "--health-addr=127.0.0.1:0", "--metrics-addr=off"],
      { POD_NAME: "task-controller-test-0", POD_NAMESPACE: deployment.metadata.namespace! },
    );
    await controller.waitFor(/informers synced/);

    await kubectl(env(), ["apply", "-n", namespace, "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "tasks.org.dev/v1alpha1",
        kind: "Task",
        metadata: { name: "hello-sidecar" },
        spec: { process: { command: ["sh", "-c"], args: ['echo "main=$SANDBOX_MAIN_CONTAINER host=$(hostname)"; exit 3'] } },
      }),
    });
    const task = await waitFor(async () => {
      const current = JSON.parse(await kubectl(env(), ["get", "task", "hello-sidecar", "-n", namespace, "-o", "json"]));
      return ["Succeeded", "Failed"].includes(current.status?.phase) ? current : undefined;
    }, 60_000, 250).catch((error: Error) => {
      throw new Error(`${error.message}; controller output:\n${controller!.output.slice(-30).join("\n")}`);
    });
    expect(task.status).toMatchObject({ phase: "Failed", exitCode: 3, reason: "Failed" });
    expect(task.status.executor).toMatchObject({ pod: pod.metadata.name, namespace, node: NODE_NAME, address: `${executor.address}:${port}` });

    // It ran inside the main container: its environment and its hostname (own UTS namespace).
    const logs = await fetch(`${executor.executor.url}/tasks/${encodeURIComponent(task.status.executor.taskName)}/logs`, { headers: { authorization: `Bearer ${token}` } });
    expect(logs.status).toBe(200);
    expect((await logs.text()).trim()).toBe(`main=${main.name} host=${main.hostname}`);
    // The controller was allowed everything it tried with the RBAC of deploy/rbac.
    expect(controller.output.filter((line) => /forbidden|\b403\b/i.test(line))).toEqual([]);
  });
});
