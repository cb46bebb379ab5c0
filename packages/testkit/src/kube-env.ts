import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi } from "@kubernetes/client-node";
import { removeStaleNetnsHosts } from "./netns.js";

/** The script that builds and runs the control plane (repository root `scripts/`). */
export const KUBE_TESTENV_SCRIPT =
  process.env.K8S_TESTENV_SCRIPT ?? fileURLToPath(new URL("../../../scripts/k8s-testenv.sh", import.meta.url));

/** Environment variables `startKubeTestEnv` sets, and `kubeTestEnvFromEnv` reads. */
export const KUBE_TESTENV_VARS = {
  /** Path of the admin kubeconfig (also exported as KUBECONFIG). */
  kubeconfig: "K8S_TESTENV_KUBECONFIG",
  /** The environment's state directory (pid files, certificates, logs/). */
  dir: "K8S_TESTENV_DIR",
  /** The kubectl the environment uses (the one on PATH, else one built from source). */
  kubectl: "K8S_TESTENV_KUBECTL",
} as const;

/** A running etcd + kube-apiserver + kube-controller-manager on loopback. */
export interface KubeTestEnv {
  /** Admin kubeconfig (token of a system:masters user). */
  kubeconfigPath: string;
  /** State directory; component logs are in `<dir>/logs/`. */
  dir: string;
  /** The API server URL, e.g. https://127.0.0.1:41234. */
  server: string;
  /** A fresh KubeConfig loaded from `kubeconfigPath`. */
  kubeConfig(): KubeConfig;
  core(): CoreV1Api;
  customObjects(): CustomObjectsApi;
  objects(): KubernetesObjectApi;
}

export interface StartKubeTestEnvOptions {
  /** State directory; a fresh temporary one by default (so that concurrent test runs never share one). */
  dir?: string;
  /** Give up after this long (default 30 min: a cold start builds the binaries from source). */
  timeoutMs?: number;
  /** Also set KUBECONFIG, K8S_TESTENV_KUBECONFIG and K8S_TESTENV_DIR in this process's environment (default true). */
  exportEnv?: boolean;
}

let started: KubeTestEnv | undefined;

function runScript(args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [KUBE_TESTENV_SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `was killed by ${signal}${signal === "SIGTERM" ? ` after ${timeoutMs} ms` : ""}` : `exited with code ${code}`;
        reject(new Error(`${KUBE_TESTENV_SCRIPT} ${args.join(" ")} ${why}:\n${stderr.split("\n").slice(-40).join("\n")}`));
      }
    });
  });
}

function envFromKubeconfig(kubeconfigPath: string, dir: string): KubeTestEnv {
  const load = () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    return kc;
  };
  const server = load().getCurrentCluster()?.server;
  if (!server) throw new Error(`${kubeconfigPath} names no cluster server`);
  return {
    kubeconfigPath,
    dir,
    server,
    kubeConfig: load,
    core: () => load().makeApiClient(CoreV1Api),
    customObjects: () => load().makeApiClient(CustomObjectsApi),
    objects: () => KubernetesObjectApi.makeApiClient(load()),
  };
}

/**
 * Builds (or takes from the cache) and starts the control plane, waits until it serves, the `default`
 * ServiceAccount exists and the CRDs of deploy/crds/ are Established; first removes network namespaces left by
 * test processes that died. Throws when anything fails: tests
 * that use it fail rather than skip. Meant for a vitest `globalSetup`; pair it with `stopKubeTestEnv`.
 */
export async function startKubeTestEnv(options: StartKubeTestEnvOptions = {}): Promise<KubeTestEnv> {
  await removeStaleNetnsHosts();
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "k8s-testenv-")));
  const { stdout } = await runScript(["up", dir], options.timeoutMs ?? 30 * 60_000);
  const kubeconfigPath = stdout.trim().split("\n").pop()?.trim() ?? "";
  if (!kubeconfigPath || !existsSync(kubeconfigPath)) {
    throw new Error(`${KUBE_TESTENV_SCRIPT} up printed no kubeconfig path (stdout: ${JSON.stringify(stdout)})`);
  }
  const env = envFromKubeconfig(kubeconfigPath, dir);
  if (options.exportEnv ?? true) {
    // `<dir>/env` holds KEY=VALUE lines written by `up` (server URL, etcd URL, kubectl path).
    for (const line of readFileSync(join(dir, "env"), "utf8").split("\n")) {
      const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (match) process.env[match[1]!] = match[2]!;
    }
    process.env.KUBECONFIG = kubeconfigPath;
    process.env[KUBE_TESTENV_VARS.kubeconfig] = kubeconfigPath;
    process.env[KUBE_TESTENV_VARS.dir] = dir;
  }
  started = env;
  return env;
}

/** Stops the control plane started in `dir` (default: the one `startKubeTestEnv` started last in this process). */
export async function stopKubeTestEnv(dir: string | KubeTestEnv | undefined = started, timeoutMs = 120_000): Promise<void> {
  const target = typeof dir === "string" ? dir : dir?.dir;
  if (!target) return;
  await runScript(["down", target], timeoutMs);
  if (started?.dir === target) started = undefined;
}

/**
 * The environment a `globalSetup` started, for test files: read from K8S_TESTENV_KUBECONFIG (or KUBECONFIG).
 * Throws when neither is set, naming what to do.
 */
export function kubeTestEnvFromEnv(env: NodeJS.ProcessEnv = process.env): KubeTestEnv {
  const kubeconfigPath = env[KUBE_TESTENV_VARS.kubeconfig] ?? env.KUBECONFIG;
  if (!kubeconfigPath) {
    throw new Error(
      `no Kubernetes test environment: ${KUBE_TESTENV_VARS.kubeconfig} is not set (start one with startKubeTestEnv() in a vitest globalSetup, or scripts/k8s-testenv.sh up)`,
    );
  }
  if (!existsSync(kubeconfigPath)) throw new Error(`kubeconfig ${kubeconfigPath} does not exist (is the test environment still up?)`);
  const dir = env[KUBE_TESTENV_VARS.dir] ?? join(kubeconfigPath, "..");
  return envFromKubeconfig(kubeconfigPath, dir);
}

/** The admin bearer token of an environment (from its kubeconfig), for plain HTTP clients. */
export function kubeTestEnvToken(env: KubeTestEnv): string {
  const token = env.kubeConfig().getCurrentUser()?.token;
  if (!token) throw new Error(`${env.kubeconfigPath} has no token`);
  return token;
}

/** Runs kubectl (K8S_TESTENV_KUBECTL, else the one on PATH) against the environment; resolves with stdout, rejects with stderr on a non-zero exit. */
export function kubectl(env: Pick<KubeTestEnv, "kubeconfigPath">, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const bin = process.env[KUBE_TESTENV_VARS.kubectl] || "kubectl";
    const child = spawn(bin, ["--kubeconfig", env.kubeconfigPath, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`kubectl ${args.join(" ")} exited with ${code}: ${stderr.trim()}`));
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Something to reach the API with: a KubeConfig, or a KubeTestEnv. */
export type KubeTarget = KubeConfig | { kubeConfig(): KubeConfig };

export function kubeConfigOf(target: KubeTarget): KubeConfig {
  return target instanceof KubeConfig ? target : target.kubeConfig();
}

export function coreApi(target: KubeTarget): CoreV1Api {
  return kubeConfigOf(target).makeApiClient(CoreV1Api);
}

/** Creates a namespace named `<prefix>-<random>`, waits for its `default` ServiceAccount, returns its name. */
export async function createTestNamespace(target: KubeTarget, prefix = "test"): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const core = coreApi(target);
  await core.createNamespace({ body: { apiVersion: "v1", kind: "Namespace", metadata: { name } } });
  // Pods can be created only once the service account controller has made the `default` ServiceAccount.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await core.readNamespacedServiceAccount({ namespace: name, name: "default" });
      return name;
    } catch (error) {
      if ((error as { code?: number }).code !== 404) throw error;
      if (Date.now() > deadline) throw new Error(`the default ServiceAccount of namespace ${name} did not appear within 30 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads a component's log from the environment's directory (for failure messages). */
export function kubeTestEnvLog(env: Pick<KubeTestEnv, "dir">, component: "etcd" | "kube-apiserver" | "kube-controller-manager"): string {
  const file = join(env.dir, "logs", `${component}.log`);
  return existsSync(file) ? readFileSync(file, "utf8") : "";
}
