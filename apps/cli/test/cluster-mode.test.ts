import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, type ExecutorProcess } from "@org/testkit";
import { taskctl } from "./helpers.js";

/** A kubeconfig whose API server is a loopback port nothing listens on. */
const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:9", insecure-skip-tls-verify: true}
users:
- name: someone
  user: {token: not-a-real-token}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: someone, namespace: batch}
current-context: nowhere
`;

describe("choosing the cluster mode", () => {
  let executor: ExecutorProcess;
  let kubeconfig: string;
  beforeAll(async () => {
    executor = await startExecutor();
    await executor.client.createTask({ name: "on-the-executor", spec: { process: { command: ["true"] } } });
    kubeconfig = join(await mkdtemp(join(tmpdir(), "taskctl-kube-")), "config");
    await writeFile(kubeconfig, KUBECONFIG);
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("KUBECONFIG in the environment alone does not switch modes", async () => {
    const result = await taskctl(["list", "-o", "name"], { env: { TASKCTL_EXECUTOR: executor.url, KUBECONFIG: kubeconfig } });
    expect(result.stdout).toBe("task/on-the-executor\n");
  });

  it.each([
    [["--cluster"], { KUBECONFIG: "KUBECONFIG" }],
    [["--kubeconfig", "KUBECONFIG"], {}],
    [["--context", "nowhere"], { KUBECONFIG: "KUBECONFIG" }],
    [["-n", "batch"], { KUBECONFIG: "KUBECONFIG" }],
  ])("%j switches to the cluster (and honours KUBECONFIG there)", async (flags, extraEnv) => {
    const resolve = (value: string) => (value === "KUBECONFIG" ? kubeconfig : value);
    const env = Object.fromEntries(Object.entries(extraEnv).map(([key, value]) => [key, resolve(value)]));
    const result = await taskctl([...flags.map(resolve), "list"], { env: { TASKCTL_EXECUTOR: executor.url, ...env } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot reach the API server at https:\/\/127\.0\.0\.1:9 \(request to https:\/\/127\.0\.0\.1:9\/apis\/tasks\.org\.dev\/v1alpha1\/namespaces\/batch\/tasks failed, reason: connect ECONNREFUSED[^\n]*\)\n$/);
  });

  it("bad kubeconfig or context is one clear error", async () => {
    const missing = await taskctl(["--kubeconfig", "/no/such/kubeconfig", "list"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot load the kubeconfig \/no\/such\/kubeconfig: ENOENT[^\n]*\n$/);
    const context = await taskctl(["--kubeconfig", kubeconfig, "--context", "elsewhere", "list"]);
    expect(context.stderr).toBe("error: the kubeconfig has no context 'elsewhere'\n");
  });

  it("schedule verbs need the cluster mode; apply checks the file before reaching the cluster", async () => {
    const schedule = await taskctl(["schedule", "list"], { env: { TASKCTL_EXECUTOR: executor.url } });
    expect(schedule.code).toBe(2);
    expect(schedule.stderr).toBe("error: schedule works on a cluster only: add --cluster (or --kubeconfig, --context, -n)\n");
    const file = join(tmpdir(), `taskctl-bad-${process.pid}.yaml`);
    await writeFile(file, "- apiVersion: tasks.org.dev/v1alpha1\n  kind: Task\n  metadata: {name: t}\n  spec:\n    process: {command: [true], timeoutSeconds: -1}\n");
    const apply = await taskctl(["--kubeconfig", kubeconfig, "apply", "-f", file]);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toMatch(new RegExp(`^error: ${file}:5: item 0 \\(t\\): spec\\.process\\.command\\[0\\]: `));
  });
});
