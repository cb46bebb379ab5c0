import type { Readable } from "node:stream";
import { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObjectApi, type KubernetesObject, PatchStrategy, setHeaderOptions, VersionApi, Watch } from "@kubernetes/client-node";
import { EXECUTOR_TOKEN_HEADER, type NewTask } from "@org/task-core";
import { TASK_GROUP, TASK_PLURAL, TASK_SCHEDULE_PLURAL, TASK_VERSION, parseSecretRef, tokenOfSecret, type TaskResource, type TaskScheduleResource } from "@org/task-api";
import { DEFAULT_EXECUTOR_TOKEN_SECRET } from "../context.js";
import { CliError, UsageError, describeError } from "../errors.js";
import type { ManifestItem } from "../manifest.js";
import { parseSelector } from "../selector.js";
import type { TaskView } from "../view.js";
import { appliedObject, logsPathOf, taskResourceOf, viewOfTaskResource } from "./cluster-convert.js";
import { KubeHttpError, kubeGet, readAll } from "./kube-http.js";
import type { ApplyPlan, ApplyResult, LogRequest, Target, TaskEventView, TaskList } from "./target.js";

export interface ClusterTargetOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** `NS/NAME` of the Secret whose key `token` is the executors' token (default {@link DEFAULT_EXECUTOR_TOKEN_SECRET}). */
  executorTokenSecret?: string;
  /** The executors' token itself (`--token`): sent instead of the Secret's, which is then not read. */
  executorToken?: string;
}


/** The executor token, where it came from (for messages), or why there is none. */
interface ExecutorToken {
  /** "the token of Secret NS/NAME (--executor-token-secret)" or "the token of --token". */
  source: string;
  token?: string;
  problem?: string;
}

/** `NS/NAME` of `--executor-token-secret`, checked. */
export function secretRefOf(value: string): { namespace: string; name: string } {
  const ref = parseSecretRef(value);
  if (!ref) throw new UsageError(`--executor-token-secret takes NAMESPACE/NAME of a Secret, got '${value}'`);
  return ref;
}

const FIELD_MANAGER = "taskctl";
const POLL_MS = 500;
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

/** Kubernetes list of a plural in a namespace, as the API server returns it. */
interface KubeList<T> {
  apiVersion: string;
  kind: string;
  metadata?: unknown;
  items: T[];
}

/** The cluster's Task and TaskSchedule resources, with kubectl's kubeconfig defaults. */
export class ClusterTarget implements Target {
  readonly kind = "cluster";
  readonly where: string;
  private readonly custom: CustomObjectsApi;
  private readonly objects: KubernetesObjectApi;

  private executorToken: Promise<ExecutorToken> | undefined;

  private constructor(
    readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly executorTokenSecret: string,
    givenExecutorToken: string | undefined,
  ) {
    if (givenExecutorToken) this.executorToken = Promise.resolve({ source: "the token of --token", token: givenExecutorToken });
    this.where = `${kubeConfig.getCurrentContext() || kubeConfig.getCurrentCluster()?.server}/${namespace}`;
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  /** Loads the kubeconfig (`--kubeconfig`, else KUBECONFIG, else ~/.kube/config, else in-cluster) and picks context and namespace. */
  static async connect(options: ClusterTargetOptions): Promise<ClusterTarget> {
    const executorTokenSecret = options.executorTokenSecret ?? DEFAULT_EXECUTOR_TOKEN_SECRET;
    secretRefOf(executorTokenSecret);
    const kubeConfig = new KubeConfig();
    try {
      if (options.kubeconfig) kubeConfig.loadFromFile(options.kubeconfig);
      else kubeConfig.loadFromDefault();
    } catch (error) {
      throw new CliError(`cannot load the kubeconfig${options.kubeconfig ? ` ${options.kubeconfig}` : ""}: ${(error as Error).message}`);
    }
    if (options.context) {
      if (!kubeConfig.getContextObject(options.context)) throw new CliError(`the kubeconfig has no context '${options.context}'`);
      kubeConfig.setCurrentContext(options.context);
    }
    if (!kubeConfig.getCurrentCluster()) throw new CliError("no cluster: the kubeconfig names no current context (use --kubeconfig or --context)");
    const contextNamespace = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
    return new ClusterTarget(kubeConfig, options.namespace ?? contextNamespace ?? "default", executorTokenSecret, options.executorToken);
  }

  private get server(): string {
    return this.kubeConfig.getCurrentCluster()?.server ?? "";
  }

  /** Runs an API call; connection failures name the API server. */
  private async call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (typeof error === "object" && error !== null && "code" in error && typeof (error as { code: unknown }).code === "number") throw error;
      throw new CliError(`cannot reach the API server at ${this.server} (${describeError(error)})`);
    }
  }

  private tasks<E extends object>(extra: E) {
    return { group: TASK_GROUP, version: TASK_VERSION, namespace: this.namespace, plural: TASK_PLURAL, ...extra };
  }

  private schedules<E extends object>(extra: E) {
    return { group: TASK_GROUP, version: TASK_VERSION, namespace: this.namespace, plural: TASK_SCHEDULE_PLURAL, ...extra };
  }

  async getTask(name: string): Promise<TaskResource> {
    return this.call(() => this.custom.getNamespacedCustomObject(this.tasks({ name })) as Promise<TaskResource>);
  }

  async create(task: NewTask): Promise<TaskView> {
    const body = taskResourceOf(task, this.namespace);
    return viewOfTaskResource(await this.call(() => this.custom.createNamespacedCustomObject(this.tasks({ body })) as Promise<TaskResource>));
  }

  async get(name: string): Promise<TaskView> {
    return viewOfTaskResource(await this.getTask(name));
  }

  async listTasks(selector: string | undefined): Promise<KubeList<TaskResource>> {
    if (selector) parseSelector(selector);
    return this.call(() => this.custom.listNamespacedCustomObject(this.tasks(selector ? { labelSelector: selector } : {})) as Promise<KubeList<TaskResource>>);
  }

  async list(selector: string | undefined): Promise<TaskList> {
    const list = await this.listTasks(selector);
    return { views: list.items.map(viewOfTaskResource), raw: list };
  }

  private async poll(name: string, timeoutMs: number | undefined, done: (view: TaskView) => boolean): Promise<TaskView> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const view = await this.get(name);
      if (done(view) || Date.now() >= deadline) return view;
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
    }
  }

  waitForEnd(name: string, timeoutMs: number | undefined): Promise<TaskView> {
    return this.poll(name, timeoutMs, (view) => view.terminal);
  }

  waitForStart(name: string, timeoutMs: number | undefined): Promise<TaskView> {
    return this.poll(name, timeoutMs, (view) => view.terminal || (view.hasStarted && logsPathOf(view.raw as TaskResource) !== undefined));
  }

  private async logsPath(name: string, request: LogRequest, follow: boolean): Promise<string> {
    const resource = await this.getTask(name);
    const path = logsPathOf(resource);
    if (!path) throw new CliError(`task ${name} is not placed on an executor yet (${resource.status?.phase ?? "Pending"}${resource.status?.reason ? `, ${resource.status.reason}` : ""}): no output`);
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request)) if (value !== undefined) query.set(key, String(value));
    if (follow) query.set("follow", "true");
    const text = query.toString();
    return text ? `${path}?${text}` : path;
  }

  /**
   * The executors' token: `--token`, else key `token` of the Secret `--executor-token-secret` (read once, on the
   * first pod-proxy request). A Secret that is missing or unreadable is no error: executors without `--auth-token-file` need none,
   * and a 401 of one that does then says why no token was sent.
   */
  private readExecutorToken(): Promise<ExecutorToken> {
    this.executorToken ??= (async (): Promise<ExecutorToken> => {
      const secret = this.executorTokenSecret;
      const source = `the token of Secret ${secret} (--executor-token-secret)`;
      const { namespace, name } = secretRefOf(secret);
      try {
        const found = await this.kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name });
        const token = tokenOfSecret(found);
        if (token === undefined) return { source, problem: "it has no key 'token'" };
        if (!token) return { source, problem: "its key 'token' is empty" };
        return { source, token };
      } catch (error) {
        const code = typeof error === "object" && error !== null && "code" in error ? (error as { code: unknown }).code : undefined;
        if (code === 404) return { source, problem: "it was not found" };
        if (code === 403) return { source, problem: `reading it is forbidden (${describeError(error)})` };
        return { source, problem: `it could not be read (${describeError(error)})` };
      }
    })();
    return this.executorToken;
  }

  /** A GET through the pod proxy, with the executor token when there is one; a 401 of the executor says which token was tried. */
  private async proxyGet(path: string): Promise<Readable> {
    const token = await this.readExecutorToken();
    try {
      return await kubeGet(this.kubeConfig, path, token.token ? { [EXECUTOR_TOKEN_HEADER]: token.token } : {});
    } catch (error) {
      if (!(error instanceof KubeHttpError) || error.status !== 401 || !error.fromProxiedServer) throw error;
      const hint = token.token
        ? `taskctl sent ${token.source} as ${EXECUTOR_TOKEN_HEADER} and the executor refused it: it is not in the executor's --auth-token-file`
        : `the executor wants a token, and taskctl sends ${token.source}, but ${token.problem} (--token gives the token itself)`;
      throw new CliError(`${error.message}; ${hint}`);
    }
  }

  async logs(name: string, request: LogRequest): Promise<Buffer> {
    return readAll(await this.proxyGet(await this.logsPath(name, request, false)));
  }

  async followLogs(name: string, request: LogRequest): Promise<Readable> {
    return this.proxyGet(await this.logsPath(name, request, true));
  }

  async stop(name: string): Promise<TaskView> {
    const body = { spec: { terminated: true } };
    const patched = await this.call(() => this.custom.patchNamespacedCustomObject(this.tasks({ name, body }), mergePatch) as Promise<TaskResource>);
    return viewOfTaskResource(patched);
  }

  async delete(name: string): Promise<void> {
    await this.call(() => this.custom.deleteNamespacedCustomObject(this.tasks({ name })));
  }

  async prepareApply(items: ManifestItem[]): Promise<ApplyPlan> {
    const objects = items.map((item) => appliedObject(item, this.namespace));
    const preview = objects.map((object): ApplyResult => ({ name: object.metadata.name ?? "", action: "applied", kind: object.kind }));
    return {
      warnings: [],
      preview,
      execute: async () => {
        const results: ApplyResult[] = [];
        for (const object of objects) {
          await this.call(() => this.objects.patch(object as unknown as KubernetesObject, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
          results.push({ name: object.metadata.name ?? "", action: "applied", kind: object.kind });
        }
        return results;
      },
    };
  }

  async health(): Promise<string> {
    const body = (await readAll(await kubeGet(this.kubeConfig, "/readyz"))).toString("utf8").trim();
    return `API server ${body || "ready"}`;
  }

  async serverVersion(): Promise<string | undefined> {
    const version = await this.call(() => this.kubeConfig.makeApiClient(VersionApi).getCode());
    return `Kubernetes ${version.gitVersion}`;
  }

  async watch(selector: string | undefined, onEvent: (event: TaskEventView) => void, signal: AbortSignal): Promise<void> {
    if (selector) parseSelector(selector);
    const path = `/apis/${TASK_GROUP}/${TASK_VERSION}/namespaces/${this.namespace}/${TASK_PLURAL}`;
    await new Promise<void>((resolve, reject) => {
      const type: Record<string, string> = { ADDED: "added", MODIFIED: "modified", DELETED: "deleted" };
      void new Watch(this.kubeConfig)
        .watch(
          path,
          selector ? { labelSelector: selector } : {},
          (phase, object: TaskResource) => {
            if (type[phase]) onEvent({ type: type[phase], view: viewOfTaskResource(object) });
          },
          (error: unknown) => (error && !signal.aborted ? reject(new CliError(`the watch ended: ${describeError(error)}`)) : resolve()),
        )
        .then((controller) => signal.addEventListener("abort", () => controller.abort(), { once: true }), reject);
    });
  }

  // TaskSchedules (cluster mode only).

  async listSchedules(selector: string | undefined): Promise<KubeList<TaskScheduleResource>> {
    if (selector) parseSelector(selector);
    return this.call(() => this.custom.listNamespacedCustomObject(this.schedules(selector ? { labelSelector: selector } : {})) as Promise<KubeList<TaskScheduleResource>>);
  }

  getSchedule(name: string): Promise<TaskScheduleResource> {
    return this.call(() => this.custom.getNamespacedCustomObject(this.schedules({ name })) as Promise<TaskScheduleResource>);
  }

  createSchedule(body: TaskScheduleResource): Promise<TaskScheduleResource> {
    return this.call(() => this.custom.createNamespacedCustomObject(this.schedules({ body })) as Promise<TaskScheduleResource>);
  }

  patchSchedule(name: string, body: unknown): Promise<TaskScheduleResource> {
    return this.call(() => this.custom.patchNamespacedCustomObject(this.schedules({ name, body }), mergePatch) as Promise<TaskScheduleResource>);
  }

  async deleteSchedule(name: string): Promise<void> {
    await this.call(() => this.custom.deleteNamespacedCustomObject(this.schedules({ name })));
  }

  async createTask(body: TaskResource): Promise<TaskView> {
    return viewOfTaskResource(await this.call(() => this.custom.createNamespacedCustomObject(this.tasks({ body })) as Promise<TaskResource>));
  }
}
