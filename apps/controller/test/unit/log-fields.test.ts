import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "@org/logging";
import { ExecutorConnection } from "../../src/executors/connection.js";
import { ReconcileLog, kebab } from "../../src/log-fields.js";
import { ControllerMetrics } from "../../src/metrics.js";

/** The controller's real JSON logger, with its console transport silenced and every line it writes captured. */
function capturingLogger() {
  const logger = createLogger({ logLevel: "debug", logFormat: "json" });
  for (const transport of logger.transports) transport.silent = true;
  const lines: Record<string, unknown>[] = [];
  logger.on("data", (info: Record<string | symbol, unknown>) => lines.push(JSON.parse(String(info[Symbol.for("message")]))));
  const waitFor = async (event: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = lines.find((candidate) => candidate.event === event);
      if (line) return line;
      if (Date.now() > deadline) throw new Error(`no log line with event ${event}: ${JSON.stringify(lines)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { logger, lines, waitFor };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A stand-in executor that answers `POST /setTasks` with an empty listing. */
async function fakeExecutor(): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => response.writeHead(200, { "content-type": "application/json" }).end("[]"));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("controller log fields", () => {
  it("a reconcile logs event, task and durationMs as JSON; a failed one also the error and the retry", async () => {
    const { logger, lines } = capturingLogger();
    const log = new ReconcileLog(logger, new ControllerMetrics());
    await log.run("task", "team-a/migrate", async () => ({ requeueAfterMs: 200 }));
    const failure = new Error("Task team-a/migrate changed while it was reconciled; retrying");
    await expect(log.run("task", "team-a/migrate", async () => Promise.reject(failure))).rejects.toBe(failure);
    log.failed("task", "team-a/migrate", failure, 400, 3.5);
    await log.run("schedule", "team-a/nightly", async () => undefined);

    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ level: "debug", message: "reconciled", event: "reconciled", task: "team-a/migrate", requeueAfterMs: 200 });
    expect(lines[1]).toMatchObject({ level: "warn", event: "reconcile-failed", task: "team-a/migrate", error: failure.message, retryInMs: 400 });
    expect(lines[2]).toMatchObject({ level: "debug", event: "reconciled", schedule: "team-a/nightly" });
    for (const line of lines) {
      expect(typeof line.durationMs).toBe("number");
      expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
      expect(typeof line.timestamp).toBe("string");
    }
  });

  it("a push of an executor's desired set logs event, executor and durationMs; a failed push too", async () => {
    const { logger, waitFor } = capturingLogger();
    const address = await fakeExecutor();
    const options = { token: undefined, logger, onTasksChanged: () => undefined, onExecutorChanged: () => undefined };
    const connection = new ExecutorConnection({ ...options, key: "executors/executor-1", address, desiredSet: () => [{ name: "team-a.migrate.uid", spec: { process: { command: ["true"] } } }] });
    await connection.requestPush();
    expect(await waitFor("pushed")).toMatchObject({ level: "debug", event: "pushed", executor: "executors/executor-1", tasks: 1 });
    expect(typeof (await waitFor("pushed")).durationMs).toBe("number");
    connection.close();

    // Nothing listens on port 1: the push fails at once and is retried until the connection closes.
    const unreachable = new ExecutorConnection({ ...options, key: "executors/executor-2", address: "127.0.0.1:1", desiredSet: () => [] });
    const pushing = unreachable.requestPush();
    const failed = await waitFor("executor-call-failed");
    unreachable.close();
    await pushing;
    expect(failed).toMatchObject({ level: "warn", event: "executor-call-failed", executor: "executors/executor-2", call: "push", kind: "connection" });
    expect(typeof failed.durationMs).toBe("number");
  });

  it("Event reasons become kebab-case log events", () => {
    expect(["Scheduled", "ExecutorLost", "NoExecutor", "CleanupTimeout", "RunCreated"].map(kebab)).toEqual(["scheduled", "executor-lost", "no-executor", "cleanup-timeout", "run-created"]);
  });
});
