import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { kubeTestEnvFromEnv, kubectl } from "@org/testkit";
import { DEPLOY_DIR, ensureNamespace, kustomizationDirs, parseManifests, podMetadataOf, podSpecOf, render, type Manifest } from "./deploy.js";

const env = () => kubeTestEnvFromEnv();

/** Every kustomization under deploy/ and what it renders to. */
const dirs = kustomizationDirs();
const rendered = new Map<string, Manifest[]>();
const renderedText = new Map<string, string>();

beforeAll(async () => {
  for (const dir of dirs) {
    const text = await render(env(), dir);
    renderedText.set(dir, text);
    rendered.set(dir, parseManifests(text));
  }
});

const containersOf = (manifests: Manifest[]) =>
  manifests.flatMap((manifest) => (podSpecOf(manifest)?.containers ?? []).map((container: any) => ({ manifest, container })));

const isExecutor = (container: any) => /(^|\/)task-executor(:|@|$)/.test(container.image);
const isController = (container: any) => /(^|\/)task-controller(:|@|$)/.test(container.image);

describe("deploy/", () => {
  it("holds the base, the overlays and the examples", () => {
    expect(dirs).toEqual(
      expect.arrayContaining([".", "base", "overlays/dev", "overlays/production", "examples/sidecar", "examples/main-container", "examples/container-mode"]),
    );
    // Plain directories: `kubectl apply -f deploy/crds/` must not meet a kustomization there.
    expect(dirs.filter((dir) => dir.startsWith("crds") || dir.startsWith("rbac"))).toEqual([]);
  });

  it.each(dirs)("kubectl kustomize deploy/%s renders objects that pass a server-side dry run", async (dir) => {
    const manifests = rendered.get(dir)!;
    expect(manifests.length).toBeGreaterThan(0);
    // A dry run creates nothing, so objects in a namespace the same manifests create need that namespace for real.
    const namespaces = new Set(manifests.map((manifest) => manifest.metadata.namespace).filter((ns): ns is string => Boolean(ns)));
    for (const namespace of namespaces) await ensureNamespace(env(), namespace);
    const output = await kubectl(env(), ["apply", "--dry-run=server", "--validate=strict", "-f", "-"], { input: renderedText.get(dir)! });
    const lines = output.trim().split("\n");
    expect(lines).toHaveLength(manifests.length);
    for (const line of lines) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);
  });

  it("deploy/crds and deploy/rbac apply as plain directories", async () => {
    await ensureNamespace(env(), "task-system");
    const output = await kubectl(env(), ["apply", "--dry-run=server", "--validate=strict", "-f", join(DEPLOY_DIR, "crds"), "-f", join(DEPLOY_DIR, "rbac")]);
    expect(output).toMatch(/customresourcedefinition.apiextensions.k8s.io\/tasks.tasks.org.dev .*\(server dry run\)/);
    expect(output).toMatch(/clusterrole.rbac.authorization.k8s.io\/task-controller .*\(server dry run\)/);
    expect(output).toMatch(/namespace\/task-system .*\(server dry run\)/);
  });

  it("every executor container has liveness /health and readiness /ready on its API port", () => {
    const executors = [...rendered.entries()].flatMap(([dir, manifests]) => containersOf(manifests).filter(({ container }) => isExecutor(container)).map((found) => ({ dir, ...found })));
    expect(new Set(executors.map(({ dir }) => dir))).toEqual(new Set(["examples/sidecar", "examples/main-container", "examples/container-mode"]));
    for (const { dir, manifest, container } of executors) {
      const where = `${dir}: ${manifest.kind}/${manifest.metadata.name}`;
      const port = container.ports?.find((p: any) => p.name === container.livenessProbe?.httpGet?.port)?.containerPort;
      expect(container.livenessProbe?.httpGet?.path, where).toBe("/health");
      expect(container.readinessProbe?.httpGet?.path, where).toBe("/ready");
      expect(container.readinessProbe.httpGet.port, where).toBe(container.livenessProbe.httpGet.port);
      // The pod is an executor pod: label, and the port annotation naming the probed port, where the executor listens.
      const metadata = podMetadataOf(manifest)!;
      expect(metadata.labels?.["tasks.org.dev/executor"], where).toBe("true");
      expect(metadata.annotations?.["tasks.org.dev/executor-port"], where).toBe(String(port));
      expect(container.args, where).toContain(`--listen-addr=0.0.0.0:${port}`);
      // The token comes from a mounted Secret.
      const tokenFile = container.args.find((arg: string) => arg.startsWith("--auth-token-file="))?.split("=")[1];
      expect(tokenFile, where).toBeTruthy();
      const mount = container.volumeMounts.find((m: any) => tokenFile.startsWith(`${m.mountPath}/`));
      const volume = podSpecOf(manifest).volumes.find((v: any) => v.name === mount?.name);
      expect(volume?.secret?.secretName, where).toBe("task-executor-token");
      expect(volume.secret.items).toEqual([{ key: "token", path: tokenFile.slice(mount.mountPath.length + 1) }]);
    }
  });

  it("the controller runs two replicas with leader election, probes on 8081 and metrics on 8080", () => {
    const controllers = [...rendered.entries()].flatMap(([dir, manifests]) => containersOf(manifests).filter(({ container }) => isController(container)).map((found) => ({ dir, ...found })));
    expect(new Set(controllers.map(({ dir }) => dir))).toEqual(new Set([".", "base", "overlays/dev", "overlays/production"]));
    for (const { dir, manifest, container } of controllers) {
      const where = `${dir}: ${manifest.kind}/${manifest.metadata.name}`;
      expect(manifest.spec.replicas, where).toBe(dir === "overlays/dev" ? 1 : 2);
      expect(podSpecOf(manifest).serviceAccountName, where).toBe("task-controller");
      expect(container.args, where).toEqual(
        expect.arrayContaining([
          "--leader-elect=true",
          "--leader-election-namespace=$(POD_NAMESPACE)",
          "--identity=$(POD_NAME)",
          "--executor-token-secret=task-system/task-executor-token",
          "--health-addr=:8081",
          "--metrics-addr=:8080",
        ]),
      );
      expect(container.env).toEqual(
        expect.arrayContaining([
          { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        ]),
      );
      const ports = Object.fromEntries(container.ports.map((p: any) => [p.name, p.containerPort]));
      expect(ports, where).toEqual({ metrics: 8080, health: 8081 });
      expect(container.livenessProbe.httpGet, where).toEqual({ path: "/healthz", port: "health" });
      expect(container.readinessProbe.httpGet, where).toEqual({ path: "/readyz", port: "health" });
      expect(podSpecOf(manifest).securityContext.runAsNonRoot, where).toBe(true);
    }
    const full = rendered.get(".")!;
    expect(full.find((m) => m.kind === "PodDisruptionBudget")?.spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: { "app.kubernetes.io/name": "task-controller" } } });
    expect(full.find((m) => m.kind === "Secret" && m.metadata.name === "task-executor-token")?.metadata.namespace).toBe("task-system");
    // Production keeps the token Secret out of the manifests: an apply must never reset it to the placeholder.
    expect(rendered.get("overlays/production")!.filter((m) => m.kind === "Secret")).toEqual([]);
  });

  it("the sidecar example shares the process namespace and grants what the executor checks for", () => {
    const pod = rendered.get("examples/sidecar")!.find((m) => m.kind === "Pod")!;
    expect(pod.spec.shareProcessNamespace).toBe(true);
    const executor = pod.spec.containers.find(isExecutor);
    const main = pod.spec.containers.find((c: any) => !isExecutor(c));
    const mainName = executor.args.find((arg: string) => arg.startsWith("--main-container-name="))?.split("=")[1];
    expect(executor.args).toContain("--enable-sidecar-mode=true");
    expect(main.env).toContainEqual({ name: "SANDBOX_MAIN_CONTAINER", value: mainName });
    // packages/runtime-sidecar/src/prerequisites.ts: CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SETUID, CAP_SETGID, CAP_SYS_CHROOT.
    expect(executor.securityContext.capabilities.add).toEqual(expect.arrayContaining(["SYS_ADMIN", "SYS_PTRACE", "SETUID", "SETGID", "SYS_CHROOT"]));
    expect(executor.securityContext.runAsUser).toBe(0);
    const dataDir = executor.args.find((arg: string) => arg.startsWith("--data-dir="))?.split("=")[1];
    const mount = executor.volumeMounts.find((m: any) => m.mountPath === dataDir);
    expect(pod.spec.volumes.find((v: any) => v.name === mount?.name)).toEqual({ name: mount.name, emptyDir: {} });
  });

  it("the container-mode DaemonSet mounts the CRI socket and the data dir at the node's paths", () => {
    const daemonSet = rendered.get("examples/container-mode")!.find((m) => m.kind === "DaemonSet")!;
    const spec = podSpecOf(daemonSet);
    const executor = spec.containers.find(isExecutor);
    expect(executor.args).toContain("--enable-container-mode=true");
    const hostPathOf = (mountPath: string) => {
      const mount = executor.volumeMounts.find((m: any) => m.mountPath === mountPath);
      return spec.volumes.find((v: any) => v.name === mount?.name)?.hostPath?.path;
    };
    const socket = executor.args.find((arg: string) => arg.startsWith("--cri-socket="))?.split("=")[1];
    const dataDir = executor.args.find((arg: string) => arg.startsWith("--data-dir="))?.split("=")[1];
    expect(hostPathOf(socket)).toBe(socket);
    expect(hostPathOf(dataDir)).toBe(dataDir);
    for (const volume of executor.args.filter((arg: string) => arg.startsWith("--volume="))) {
      const path = volume.split("=")[2];
      expect(hostPathOf(path)).toBe(path);
    }
  });
});
