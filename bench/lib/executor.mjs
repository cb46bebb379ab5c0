/** Starting the built apps and talking to the executor with as little client-side work as possible. */
import { existsSync } from "node:fs";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";
import { startExecutor } from "@org/testkit";
import { wallNow } from "./stats.mjs";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const EXECUTOR_BIN = fileURLToPath(new URL("../../apps/executor/bin/task-executor.js", import.meta.url));
export const CONTROLLER_BIN = fileURLToPath(new URL("../../apps/controller/bin/task-controller.js", import.meta.url));
const EXECUTOR_MAIN = fileURLToPath(new URL("../../apps/executor/dist/main.js", import.meta.url));
const CONTROLLER_MAIN = fileURLToPath(new URL("../../apps/controller/dist/main.js", import.meta.url));

/** What is missing of the built apps, as a sentence naming the build command, or undefined. */
export function missingBuild({ controller = false } = {}) {
  if (!existsSync(EXECUTOR_MAIN)) return "the executor is not built (pnpm --filter @org/executor... run build)";
  if (controller && !existsSync(CONTROLLER_MAIN)) return "the controller is not built (pnpm --filter @org/controller... run build)";
  return undefined;
}

/** Starts the built executor as a child process on a loopback port (testkit's launcher). */
export function startBenchExecutor(args = [], options = {}) {
  return startExecutor({ bin: EXECUTOR_BIN, args, startTimeoutMs: 120_000, ...options });
}

/** A keep-alive HTTP client for one executor: raw requests, bodies as Buffers, no schema work. */
export class Http {
  constructor(baseUrl, maxSockets = 256) {
    this.base = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets });
    /** Requests resent after a reset of a kept-alive socket. */
    this.resets = 0;
  }

  /**
   * Resolves with { status, body, retried } (body a Buffer). A request that fails with a reset on a kept-alive
   * socket the server closed just then (its keep-alive timeout racing our reuse) is sent once more, as Node's
   * documentation advises; `retried` says so (a POST may then have landed the first time).
   */
  async call(method, path, body, timeoutMs = 120_000) {
    try {
      return await this.once(method, path, body, timeoutMs);
    } catch (error) {
      if (!error.reusedSocket || !["ECONNRESET", "EPIPE"].includes(error.code)) throw error;
      this.resets++;
      return { ...(await this.once(method, path, body, timeoutMs)), retried: true };
    }
  }

  once(method, path, body, timeoutMs) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
      const req = request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          agent: this.agent,
          headers: payload ? { "content-type": "application/json", "content-length": payload.length } : {},
        },
        (res) => {
          const chunks = [];
          res.on("data", (chunk) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no reply within ${timeoutMs} ms`)));
      req.on("error", (error) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
      req.end(payload);
    });
  }

  /** POST /tasks; throws unless 201 (or 409 on a resent request: the first one created it). */
  async create(task) {
    const reply = await this.call("POST", "/tasks", task);
    if (reply.status === 201 || (reply.status === 409 && reply.retried)) return reply;
    throw new Error(`POST /tasks ${task.name}: ${reply.status} ${reply.body.toString().slice(0, 300)}`);
  }

  /**
   * Streams a GET and counts its bytes without keeping them: resolves with { status, bytes, firstByteAt, endAt }
   * (performance.now() times).
   */
  stream(path) {
    return new Promise((resolve, reject) => {
      const req = request({ host: this.base.hostname, port: this.base.port, method: "GET", path }, (res) => {
        let bytes = 0;
        let firstByteAt;
        res.on("data", (chunk) => {
          if (firstByteAt === undefined) firstByteAt = performance.now();
          bytes += chunk.length;
        });
        res.on("end", () => resolve({ status: res.statusCode, bytes, firstByteAt, endAt: performance.now() }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }

  close() {
    this.agent.destroy();
  }
}

/**
 * Follows `GET /events` with the typed client (`ExecutorClient.events()`) and hands each event to whoever waits
 * for it by type and task name. Each arrival is stamped with performance.now() and the wall clock when it is read.
 * An event that comes before anyone waits is kept until asked for.
 */
export class EventFeed {
  constructor(client) {
    this.client = client;
    this.waiting = new Map();
    this.arrived = new Map();
    this.abort = new AbortController();
    this.count = 0;
    this.error = undefined;
    this.done = this.follow();
  }

  async follow() {
    try {
      for await (const event of this.client.events(undefined, this.abort.signal)) {
        const at = performance.now();
        const arrival = { event, at, wall: wallNow() };
        this.count++;
        if (!event.task) continue;
        const key = `${event.type}/${event.task.name}`;
        const waiter = this.waiting.get(key);
        if (waiter) {
          this.waiting.delete(key);
          clearTimeout(waiter.timer);
          waiter.resolve(arrival);
        } else this.arrived.set(key, arrival);
      }
    } catch (error) {
      if (!this.abort.signal.aborted) this.error = error;
    }
  }

  /** Resolves with { event, at, wall } of the next `type` event of task `name` (or one that already came). */
  next(type, name, timeoutMs = 300_000) {
    const key = `${type}/${name}`;
    const early = this.arrived.get(key);
    if (early) {
      this.arrived.delete(key);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`no ${type} event of ${name} within ${timeoutMs} ms${this.error ? ` (event stream failed: ${this.error.message})` : ""}`));
      }, timeoutMs);
      this.waiting.set(key, { resolve, timer });
    });
  }

  /** Drops what arrived unasked (events of tasks nobody waits for). */
  forget() {
    this.arrived.clear();
  }

  /** Ends the stream; waits still pending then never settle (their timers are cleared). */
  async close() {
    for (const waiter of this.waiting.values()) clearTimeout(waiter.timer);
    this.waiting.clear();
    this.abort.abort();
    await this.done;
  }
}

/** Opens the feed and makes sure it is live: runs one task and waits for its terminated event. */
export async function openFeed(executor, http, name = "feed-check") {
  const feed = new EventFeed(executor.client);
  for (let attempt = 0; ; attempt++) {
    const probe = `${name}-${attempt}`;
    const terminated = feed.next("terminated", probe, 15_000);
    await http.create(shTask(probe, "true"));
    try {
      await terminated;
      return feed;
    } catch (error) {
      // The stream may have connected after the probe's events went out: try again with a new probe.
      if (attempt >= 10) throw error;
    }
  }
}

/** A process task running `command` (an argv array). */
export function processTask(name, command, extra = {}) {
  return { name, spec: { process: { command, ...extra } } };
}

/** A process task running a shell script. */
export function shTask(name, script) {
  return processTask(name, ["/bin/sh", "-c", script]);
}

/** An error naming the executor's end and last log lines when it is no longer running (else the error as it is). */
export function withExecutorState(executor, error) {
  const { exitCode, signalCode } = executor.child;
  if (exitCode === null && signalCode === null) return error;
  return new Error(`${error.message}; the executor had exited (${signalCode ?? `code ${exitCode}`}): ${executor.output.slice(-5).join(" | ")}`);
}

/** The terminated state of a task object, if it ended. */
export function terminatedOf(task) {
  return task?.status?.state?.terminated;
}
