import * as http from "node:http";
import * as https from "node:https";
import type { Readable } from "node:stream";
import { z } from "zod";
import { ApiErrorBodySchema, type ApiErrorBody } from "./errors.js";
import { TaskEventSchema, type SequencedTaskEvent } from "./events.js";
import { HealthReplySchema, type HealthReply } from "./health.js";
import { TaskSchema, type Task } from "./task.js";
import type { TaskSpec } from "./spec.js";

/**
 * The header that carries an executor token where `Authorization` cannot: the Kubernetes API server removes
 * `Authorization` after it authenticated a request, so a pod-proxy request reaches the executor without it; this
 * one it forwards unchanged. The executor accepts either.
 */
export const EXECUTOR_TOKEN_HEADER = "X-Executor-Token";

export interface ExecutorClientOptions {
  /** Base URL of the executor, e.g. `http://127.0.0.1:5758`. */
  baseUrl: string;
  /** Bearer token sent with every request. */
  token?: string;
  /** PEM CA bundle trusted for `https` URLs. */
  ca?: string | Buffer;
  /** Per-attempt timeout in ms (default 10000). Streams use it only until the headers arrive. */
  timeoutMs?: number;
  /** Attempts for calls that are safe to repeat (default 3); create is never repeated. */
  retries?: number;
  /** First backoff between attempts in ms, doubled each time (default 100). */
  backoffMs?: number;
}

/** Why a call failed. `api` errors carry the executor's error body. */
export type ExecutorClientErrorKind = "api" | "timeout" | "connection" | "invalid-response";

/** Every failure of the client, typed by kind; a failed call never resolves as a success. */
export class ExecutorClientError extends Error {
  readonly kind: ExecutorClientErrorKind;
  readonly status: number | undefined;
  readonly body: ApiErrorBody | undefined;

  constructor(kind: ExecutorClientErrorKind, message: string, status?: number, body?: ApiErrorBody) {
    super(message);
    this.name = "ExecutorClientError";
    this.kind = kind;
    this.status = status;
    this.body = body;
  }

  /** The executor's error code (`NotFound`, `AlreadyExists`, ...) for `api` errors. */
  get code(): string | undefined {
    return this.body?.code;
  }
}

/** A task to create: the guide's shape. */
export interface NewTask {
  name: string;
  labels?: Record<string, string>;
  spec: TaskSpec;
}

export interface LogOptions {
  stream?: "stdout" | "stderr" | "all";
  tailLines?: number;
  limitBytes?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  timestamps?: boolean;
}

interface RawResponse {
  status: number;
  body: Buffer;
}

const TaskListSchema = z.array(TaskSchema);

/** Typed client of the executor's HTTP API (used by the controller and the CLI). */
export class ExecutorClient {
  private readonly base: URL;
  private readonly options: Required<Omit<ExecutorClientOptions, "token" | "ca">> & Pick<ExecutorClientOptions, "token" | "ca">;

  constructor(options: ExecutorClientOptions) {
    this.base = new URL(options.baseUrl);
    this.options = { timeoutMs: 10_000, retries: 3, backoffMs: 100, ...options };
  }

  /**
   * `GET /health`: status, auth, the modes the executor runs (`process`, `container`) and sidecar mode. An earlier
   * executor's reply has no `modes` and `sidecar`; it is accepted as it is ({@link executorModes} reads it as
   * process-only).
   */
  health(): Promise<HealthReply> {
    return this.json("GET", "/health", undefined, HealthReplySchema, true);
  }

  createTask(task: NewTask): Promise<Task> {
    return this.json("POST", "/tasks", task, TaskSchema, false);
  }

  getTask(name: string): Promise<Task> {
    return this.json("GET", `/tasks/${encodeURIComponent(name)}`, undefined, TaskSchema, true);
  }

  /** Long-polls until the task is terminated or `timeoutSeconds` pass; returns the task as it is then. */
  waitForTerminated(name: string, timeoutSeconds: number): Promise<Task> {
    const path = `/tasks/${encodeURIComponent(name)}?waitFor=terminated&timeoutSeconds=${timeoutSeconds}`;
    return this.json("GET", path, undefined, TaskSchema, true, (timeoutSeconds + 5) * 1000);
  }

  listTasks(): Promise<Task[]> {
    return this.json("GET", "/getTasks", undefined, TaskListSchema, true);
  }

  /** Replaces the desired set of tasks; returns every task the executor now manages. */
  setTasks(tasks: NewTask[]): Promise<Task[]> {
    return this.json("POST", "/setTasks", tasks, TaskListSchema, true);
  }

  /** Cancels a task and keeps it (terminated, reason `Cancelled`). */
  stopTask(name: string): Promise<Task> {
    return this.json("POST", `/tasks/${encodeURIComponent(name)}/stop`, undefined, TaskSchema, true);
  }

  /** Deletes a task; resolves once the executor accepted (it stops the task in the background). */
  async deleteTask(name: string): Promise<void> {
    const response = await this.withRetries(true, () => this.request("DELETE", `/tasks/${encodeURIComponent(name)}`));
    if (response.status !== 204) throw this.errorFrom(response);
  }

  /** The task's output as bytes (`follow` is served by {@link streamLogs}). */
  async logs(name: string, options: LogOptions = {}): Promise<Buffer> {
    const path = `/tasks/${encodeURIComponent(name)}/logs${logQuery(options, false)}`;
    const response = await this.withRetries(true, () => this.request("GET", path));
    if (response.status !== 200) throw this.errorFrom(response);
    return response.body;
  }

  /** Follows the task's output until it ends; the stream closes then. */
  streamLogs(name: string, options: LogOptions = {}): Promise<Readable> {
    return this.openStream(`/tasks/${encodeURIComponent(name)}/logs${logQuery(options, true)}`);
  }

  /** Streams task events, resuming after `sinceId` when given. Ends when the connection ends. */
  async *events(sinceId?: number, signal?: AbortSignal): AsyncGenerator<SequencedTaskEvent> {
    const query = sinceId === undefined ? "" : `?since=${sinceId}`;
    const stream = await this.openStream(`/events${query}`, signal);
    const decoder = new SseDecoder();
    try {
      for await (const chunk of stream) yield* decoder.push(chunk as Buffer);
    } finally {
      stream.destroy();
    }
  }

  private async json<T>(
    method: string,
    path: string,
    body: unknown,
    schema: z.ZodType<T>,
    safeToRepeat: boolean,
    timeoutMs?: number,
  ): Promise<T> {
    const response = await this.withRetries(safeToRepeat, () => this.request(method, path, body, timeoutMs));
    if (response.status < 200 || response.status >= 300) throw this.errorFrom(response);
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.body.toString("utf8"));
    } catch {
      throw new ExecutorClientError("invalid-response", `${method} ${path}: reply is not JSON`, response.status);
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      throw new ExecutorClientError("invalid-response", `${method} ${path}: unexpected reply: ${result.error.issues[0]?.message ?? "invalid"}`, response.status);
    }
    return result.data;
  }

  /** Repeats transport failures and 502/503/504 replies of safe calls with exponential backoff. */
  private async withRetries(safeToRepeat: boolean, attempt: () => Promise<RawResponse>): Promise<RawResponse> {
    const attempts = safeToRepeat ? Math.max(1, this.options.retries) : 1;
    let delay = this.options.backoffMs;
    for (let i = 1; ; i++) {
      try {
        const response = await attempt();
        const transient = response.status === 502 || response.status === 503 || response.status === 504;
        if (!transient || i >= attempts) return response;
      } catch (error) {
        if (i >= attempts || !(error instanceof ExecutorClientError) || error.kind === "api") throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }

  private errorFrom(response: RawResponse): ExecutorClientError {
    let body: ApiErrorBody | undefined;
    try {
      const parsed = ApiErrorBodySchema.safeParse(JSON.parse(response.body.toString("utf8")));
      if (parsed.success) body = parsed.data;
    } catch {
      body = undefined;
    }
    const message = body ? `${body.code}: ${body.message}` : `HTTP ${response.status}`;
    return new ExecutorClientError(body ? "api" : "invalid-response", message, response.status, body);
  }

  private transport(): typeof http | typeof https {
    return this.base.protocol === "https:" ? https : http;
  }

  private requestOptions(method: string, path: string, headers: Record<string, string>): https.RequestOptions {
    const url = new URL(path, this.base);
    const options: https.RequestOptions = {
      method,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}) },
    };
    if (this.options.ca) options.ca = this.options.ca;
    return options;
  }

  private request(method: string, path: string, body?: unknown, timeoutMs = this.options.timeoutMs): Promise<RawResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const request = this.transport().request(this.requestOptions(method, path, headers), (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
        response.on("error", (error) => reject(new ExecutorClientError("connection", `${method} ${path}: ${error.message}`)));
      });
      request.setTimeout(timeoutMs, () => {
        request.destroy(new ExecutorClientError("timeout", `${method} ${path}: no reply within ${timeoutMs} ms`));
      });
      request.on("error", (error) => {
        reject(error instanceof ExecutorClientError ? error : new ExecutorClientError("connection", `${method} ${path}: ${error.message}`));
      });
      request.end(payload);
    });
  }

  private openStream(path: string, signal?: AbortSignal): Promise<Readable> {
    return new Promise((resolve, reject) => {
      const options = this.requestOptions("GET", path, { accept: "*/*" });
      if (signal) options.signal = signal;
      const request = this.transport().request(options, (response) => {
        request.setTimeout(0);
        if (response.statusCode !== 200) {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => reject(this.errorFrom({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) })));
          return;
        }
        resolve(response);
      });
      request.setTimeout(this.options.timeoutMs, () => {
        request.destroy(new ExecutorClientError("timeout", `GET ${path}: no reply within ${this.options.timeoutMs} ms`));
      });
      request.on("error", (error) => {
        reject(error instanceof ExecutorClientError ? error : new ExecutorClientError("connection", `GET ${path}: ${error.message}`));
      });
      request.end();
    });
  }
}

function logQuery(options: LogOptions, follow: boolean): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) query.set(key, String(value));
  }
  if (follow) query.set("follow", "true");
  const text = query.toString();
  return text ? `?${text}` : "";
}

/**
 * Turns the bytes of an event stream into task events, however the bytes are cut into chunks: a multi-byte
 * character split across chunks is decoded once both halves are there (a streaming UTF-8 decoder), and an event
 * split across chunks is parsed once its blank line arrived.
 */
export class SseDecoder {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";

  /** Feeds the next chunk; returns the events it completed. */
  push(chunk: Uint8Array): SequencedTaskEvent[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const events: SequencedTaskEvent[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const event = parseSseBlock(this.buffer.slice(0, end));
      this.buffer = this.buffer.slice(end + 2);
      if (event) events.push(event);
    }
    return events;
  }
}

/** Parses one Server-Sent Events block into a task event; comments and malformed blocks give undefined. */
export function parseSseBlock(block: string): SequencedTaskEvent | undefined {
  let id: number | undefined;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("id:")) id = Number(line.slice(3).trim());
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (id === undefined || !Number.isFinite(id) || data.length === 0) return undefined;
  try {
    const parsed = TaskEventSchema.safeParse(JSON.parse(data.join("\n")));
    return parsed.success ? { id, ...parsed.data } : undefined;
  } catch {
    return undefined;
  }
}
