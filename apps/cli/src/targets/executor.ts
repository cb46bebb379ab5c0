import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { ExecutorClient, ExecutorClientError, TaskRequestSchema, phaseOf, type NewTask, type Task } from "@org/task-core";
import { CliError } from "../errors.js";
import { itemError, parseItem, type ManifestItem } from "../manifest.js";
import { matches, parseSelector } from "../selector.js";
import { viewOfExecutorTask, type TaskView } from "../view.js";
import { executorItemOf } from "./convert.js";
import type { ApplyPlan, ApplyResult, LogRequest, Target, TaskEventView, TaskList } from "./target.js";

export interface ExecutorTargetOptions {
  url: string;
  token?: string;
  caFile?: string;
}

/** The longest single long poll the executor accepts. */
const MAX_POLL_SECONDS = 3600;

/** One executor over its HTTP API, through task-core's typed client. */
export class ExecutorTarget implements Target {
  readonly kind = "executor";
  readonly where: string;
  private readonly client: ExecutorClient;

  constructor(options: ExecutorTargetOptions) {
    this.where = options.url;
    let ca: Buffer | undefined;
    if (options.caFile) {
      try {
        ca = readFileSync(options.caFile);
      } catch (error) {
        throw new CliError(`cannot read --ca-file ${options.caFile}: ${(error as Error).message}`);
      }
    }
    try {
      const client = new ExecutorClient({ baseUrl: options.url, ...(options.token ? { token: options.token } : {}), ...(ca ? { ca } : {}) });
      this.client = namingTheUrl(client, options.url);
    } catch {
      throw new CliError(`invalid executor URL '${options.url}'`);
    }
  }

  async create(task: NewTask): Promise<TaskView> {
    return viewOfExecutorTask(await this.client.createTask(task));
  }

  async get(name: string): Promise<TaskView> {
    return viewOfExecutorTask(await this.client.getTask(name));
  }

  async list(selector: string | undefined): Promise<TaskList> {
    const requirements = parseSelector(selector ?? "");
    const tasks = (await this.client.listTasks()).filter((task) => matches(requirements, task.labels));
    return { views: tasks.map(viewOfExecutorTask), raw: tasks };
  }

  async waitForEnd(name: string, timeoutMs: number | undefined): Promise<TaskView> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    for (;;) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      const task = await this.client.waitForTerminated(name, Math.max(1, Math.min(MAX_POLL_SECONDS, left)));
      if (phaseOf(task.status.state) === "terminated" || Date.now() >= deadline) return viewOfExecutorTask(task);
    }
  }

  /** Looks again at every event of the task (the events stream is open while it waits) and at least every second. */
  async waitForStart(name: string, timeoutMs: number | undefined): Promise<TaskView> {
    const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
    const controller = new AbortController();
    let wake = () => {};
    const listening = (async () => {
      try {
        for await (const event of this.client.events(undefined, controller.signal)) {
          if (event.task?.name === name || event.type === "reset") wake();
        }
      } catch {
        // The polling below goes on without the stream.
      }
    })();
    try {
      for (;;) {
        const view = await this.get(name);
        if (view.hasStarted || view.terminal || Date.now() >= deadline) return view;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(1000, Math.max(0, deadline - Date.now())));
        });
      }
    } finally {
      controller.abort();
      await listening;
    }
  }

  logs(name: string, request: LogRequest): Promise<Buffer> {
    return this.client.logs(name, request);
  }

  followLogs(name: string, request: LogRequest): Promise<Readable> {
    return this.client.streamLogs(name, request);
  }

  async stop(name: string): Promise<TaskView> {
    return viewOfExecutorTask(await this.client.stopTask(name));
  }

  delete(name: string): Promise<void> {
    return this.client.deleteTask(name);
  }

  async prepareApply(items: ManifestItem[]): Promise<ApplyPlan> {
    const desired = items.map((item) => parseDesired(item));
    const seen = new Map<string, ManifestItem>();
    items.forEach((item, index) => {
      const name = desired[index]!.name;
      const first = seen.get(name);
      if (first) throw itemError(item, ["name"], `duplicate name '${name}' (also item ${first.index})`);
      seen.set(name, item);
    });
    const current = await this.client.listTasks();
    const byName = new Map(current.map((task) => [task.name, task]));
    const removed = current.filter((task) => !seen.has(task.name) && task.deletionTimestamp === undefined).map((task) => task.name);
    const preview: ApplyResult[] = [
      ...desired.map((task): ApplyResult => ({ name: task.name, action: actionFor(byName.get(task.name), task) })),
      ...removed.map((name): ApplyResult => ({ name, action: "removed" })),
    ];
    const changed = desired.filter((task) => {
      const existing = byName.get(task.name);
      return existing && existing.deletionTimestamp === undefined && stableJson(existing.spec) !== stableJson(task.spec);
    });
    const warnings = [
      ...(removed.length === 0 ? [] : [`tasks not in the file are stopped and removed from ${this.where}: ${removed.join(", ")}`]),
      ...changed.map((task) => `task ${task.name} exists with another spec; the executor keeps it as it is (delete it first to run the new spec)`),
    ];
    return {
      warnings,
      preview,
      execute: async () => {
        await this.client.setTasks(desired);
        return preview;
      },
    };
  }

  async health(): Promise<string> {
    const health = await this.client.health();
    const extra = Object.entries(health)
      .filter(([key]) => key !== "status")
      .map(([key, value]) => `${key} ${String(value)}`);
    return [`${health.status}`, ...extra].join(", ");
  }

  async serverVersion(): Promise<string | undefined> {
    const health = await this.client.health();
    return health.version ? `task-executor ${health.version}` : undefined;
  }

  async watch(selector: string | undefined, onEvent: (event: TaskEventView) => void, signal: AbortSignal): Promise<void> {
    const requirements = parseSelector(selector ?? "");
    try {
      for await (const event of this.client.events(undefined, signal)) {
        if (!event.task || !matches(requirements, event.task.labels)) continue;
        onEvent({ type: event.type, view: viewOfExecutorTask(event.task) });
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }
}

/** The client, with connection failures and timeouts naming the executor's URL. */
function namingTheUrl(client: ExecutorClient, url: string): ExecutorClient {
  const rewrap = (error: unknown): never => {
    if (error instanceof ExecutorClientError && error.kind === "connection") throw new CliError(`cannot reach the executor at ${url} (${error.message})`);
    if (error instanceof ExecutorClientError && error.kind === "timeout") throw new CliError(`the executor at ${url} did not answer in time (${error.message})`);
    throw error;
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        return result instanceof Promise ? result.catch(rewrap) : result;
      };
    },
  });
}

/** An applied item as the executor's `{name, labels, spec}`: executor tasks as they are, Task resources converted. */
function parseDesired(item: ManifestItem): NewTask {
  const converted = executorItemOf(item.value);
  const request = parseItem(item, TaskRequestSchema, converted.value);
  if (converted.fromResource && request.name === undefined) throw itemError(item, ["metadata", "name"], "is required");
  return { name: request.name, ...(request.labels ? { labels: request.labels } : {}), spec: request.spec };
}

/** JSON with sorted keys, to compare specs whatever their key order. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b))) : inner,
  );
}

function actionFor(existing: Task | undefined, desired: NewTask): ApplyResult["action"] {
  if (!existing || existing.deletionTimestamp !== undefined) return "created";
  return "unchanged";
}
