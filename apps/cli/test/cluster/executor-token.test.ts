import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { TASK_GROUP, TASK_PLURAL, TASK_VERSION, type TaskResource } from "@org/task-api";
import { createTestNamespace, startController, startExecutorPod, type ExecutorPod } from "@org/testkit";
import { taskctl } from "../helpers.js";
import { env, kubectlTask, type Controller } from "./helpers.js";

type RbacObject = KubernetesObject & { rules?: { resourceNames?: string[] }[]; subjects?: unknown[] };

const USER_RBAC = fileURLToPath(new URL("../../../../deploy/examples/taskctl-user-rbac.yaml", import.meta.url));

/**
 * Executors as deploy/ runs them: with --auth-token-file. The API server's pod proxy drops the Authorization
 * header, so taskctl reads the token from a Secret and sends it as X-Executor-Token.
 */
describe("taskctl logs in cluster mode against executors that require a token", () => {
  let namespace: string;
  let executor: ExecutorPod;
  let controller: Controller;
  let dir: string;
  const token = randomBytes(24).toString("hex");
  const secret = () => `${namespace}/executor-token`;
  const run = (args: string[], environment: Record<string, string | undefined> = {}) => kubectlTask(namespace, args, { env: environment });
  const getTask = async (name: string) =>
    (await env().customObjects().getNamespacedCustomObject({ group: TASK_GROUP, version: TASK_VERSION, namespace, plural: TASK_PLURAL, name })) as TaskResource;
  const createSecret = (name: string, data: Record<string, string>) =>
    env()
      .core()
      .createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: data } });

  beforeAll(async () => {
    namespace = await createTestNamespace(env(), "cli-token");
    dir = await mkdtemp(join(tmpdir(), "taskctl-token-"));
    const tokenFile = join(dir, "token");
    await writeFile(tokenFile, `${token}\n`);
    executor = await startExecutorPod(env(), { namespace, name: "executor-1", executor: { args: [`--auth-token-file=${tokenFile}`], token } });
    controller = await startController({ kubeconfigPath: env().kubeconfigPath, args: ["--health-addr=off", `--executor-token-file=${tokenFile}`, `--namespace=${namespace}`] });
    await createSecret("executor-token", { token });
    await createSecret("wrong-token", { token: "not-the-token" });
    await createSecret("no-token-key", { other: token });
  });
  afterAll(async () => {
    await controller?.stop();
    await executor?.stop();
  });

  it("the Task runs on the token-protected executor", async () => {
    const result = await run(["run", "--wait", "t", "--", "sh", "-c", "echo one; echo two >&2"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect((await getTask("t")).status).toMatchObject({ phase: "Succeeded", executor: { pod: "executor-1" } });
  });

  it("logs and logs -f send the Secret's token as X-Executor-Token through the pod proxy", async () => {
    const logs = await run(["--executor-token-secret", secret(), "logs", "t", "--stream", "stdout"]);
    expect(logs.stderr).toBe("");
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe("one\n");
    const followed = await run(["logs", "-f", "t", "--executor-token-secret", secret()]);
    expect(followed.stderr).toBe("");
    expect(followed.code).toBe(0);
    expect(followed.stdout.split("\n").filter(Boolean).sort()).toEqual(["one", "two"]);
  });

  it("TASKCTL_EXECUTOR_TOKEN_SECRET names the Secret too, and run -f streams through it", async () => {
    const logs = await run(["logs", "t", "--stream", "stderr"], { TASKCTL_EXECUTOR_TOKEN_SECRET: secret() });
    expect(logs.stderr).toBe("");
    expect(logs.stdout).toBe("two\n");
    const streamed = await run(["run", "-f", "streamed", "--", "sh", "-c", "echo streamed; exit 5"], { TASKCTL_EXECUTOR_TOKEN_SECRET: secret() });
    expect(streamed.stderr).toBe("");
    expect(streamed.stdout).toBe("streamed\n");
    expect(streamed.code).toBe(5);
  });

  it("without the Secret the 401 names the Secret that was tried and why it was not used", async () => {
    // The default Secret task-system/task-executor-token does not exist in the test cluster.
    const missing = await run(["logs", "t"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe("");
    expect(missing.stderr).toMatch(
      /^error: GET \/api\/v1\/namespaces\/\S+\/pods\/executor-1%3A5758\/proxy\/tasks\/\S+\/logs: Unauthorized: missing token: .*; the executor wants a token, and taskctl sends the token of Secret task-system\/task-executor-token \(--executor-token-secret\), but it was not found \(--token gives the token itself\)\n$/,
    );
    const other = await run(["logs", "t", "--executor-token-secret", `${namespace}/absent`]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`Secret ${namespace}/absent`);
    const noKey = await run(["logs", "t", "--executor-token-secret", `${namespace}/no-token-key`]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain(`Secret ${namespace}/no-token-key`);
    expect(noKey.stderr).toMatch(/no key 'token'/);
    const wrong = await run(["logs", "t", "--executor-token-secret", `${namespace}/wrong-token`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`Secret ${namespace}/wrong-token`);
    expect(wrong.stderr).toMatch(/refused/);
  });

  it("--token (or TASKCTL_TOKEN) is the executors' token in cluster mode: sent instead of the Secret's, which is not read", async () => {
    // The Secret named does not exist: had taskctl read it, no token would go out and the executor would refuse.
    const logs = await run(["logs", "t", "--stream", "stdout", "--token", token, "--executor-token-secret", `${namespace}/absent`]);
    expect(logs.stderr).toBe("");
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe("one\n");
    const followed = await run(["logs", "-f", "t", "--executor-token-secret", `${namespace}/absent`], { TASKCTL_TOKEN: token });
    expect(followed.stderr).toBe("");
    expect(followed.stdout.split("\n").filter(Boolean).sort()).toEqual(["one", "two"]);
    // --token wins over a Secret that holds the right token, and a wrong one is named as what was refused.
    const wrong = await run(["logs", "t", "--token", "not-the-token", "--executor-token-secret", secret()]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/taskctl sent the token of --token as X-Executor-Token and the executor refused it/);
  });

  it("a malformed --executor-token-secret is a usage error", async () => {
    const bad = await run(["logs", "t", "--executor-token-secret", "no-slash"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--executor-token-secret/);
  });

  it("a user bound as deploy/examples/taskctl-user-rbac.yaml says: without the Secret's Role the 401 names the 403; with it logs work", async () => {
    // A ServiceAccount stands in for a person: a token of its own, no rights but those of the example's Roles.
    await env().core().createNamespacedServiceAccount({ namespace, body: { metadata: { name: "person" } } });
    const issued = await env().core().createNamespacedServiceAccountToken({ namespace, name: "person", body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const kubeconfig = join(dir, "person.kubeconfig");
    const ca = env().kubeConfig().getCurrentCluster()!.caFile!;
    await writeFile(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{ name: test, cluster: { server: "${env().server}", certificate-authority: "${ca}" } }]`,
        `users: [{ name: person, user: { token: "${issued.status!.token}" } }]`,
        `contexts: [{ name: test, context: { cluster: test, user: person, namespace: ${namespace} } }]`,
        "current-context: test",
        "",
      ].join("\n"),
    );
    const person = (args: string[]) => taskctl(["--kubeconfig", kubeconfig, "--executor-token-secret", secret(), ...args], { timeoutMs: 120_000 });
    // The example's objects, moved to the test namespace (Tasks and the Secret both live there) and bound to the account.
    const objects = parseAllDocuments(await readFile(USER_RBAC, "utf8")).map((document) => document.toJS() as RbacObject);
    expect(objects.map((object) => `${object.kind}/${object.metadata?.name}`)).toEqual([
      "Role/taskctl-user",
      "RoleBinding/taskctl-user",
      "Role/taskctl-executor-token",
      "RoleBinding/taskctl-executor-token",
    ]);
    for (const object of objects) {
      object.metadata!.namespace = namespace;
      if (object.kind === "RoleBinding") object.subjects = [{ kind: "ServiceAccount", name: "person", namespace }];
      for (const rule of object.rules ?? []) if (rule.resourceNames) rule.resourceNames = ["executor-token"];
    }
    const create = (object: KubernetesObject) => env().objects().create(object);
    await create(objects[0]!);
    await create(objects[1]!);
    const forbidden = await person(["logs", "t", "--stream", "stdout"]);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain(`Secret ${secret()} (--executor-token-secret), but reading it is forbidden (`);
    await create(objects[2]!);
    await create(objects[3]!);
    const allowed = await person(["logs", "t", "--stream", "stdout"]);
    expect(allowed.stderr).toBe("");
    expect(allowed.stdout).toBe("one\n");
  });
});
