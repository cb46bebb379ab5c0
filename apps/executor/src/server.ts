import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { TaskStore } from "@org/store";
import { listensBeyondLoopback, type Config } from "./config.js";
import { createApp } from "./http/app.js";
import { TokenFile } from "./http/auth.js";
import { ExecutorMetrics } from "./http/metrics.js";
import { readiness } from "./http/readiness.js";
import { withRequestIds } from "./http/request-context.js";
import { probeDataDir } from "./data-dir-probe.js";
import { createLogger } from "@org/logging";
import { EventHub } from "./manager/event-hub.js";
import { TaskManager } from "./manager/task-manager.js";
import { RetentionRunner } from "./retention.js";
import { buildRuntimes, runtimeReadinessChecks } from "./runtimes.js";
import { EXECUTOR_VERSION } from "./version.js";

/** How long one `/ready` check may take before it counts as failed. */
const READY_CHECK_TIMEOUT_MS = 2000;

/** Wires store, runtimes, manager and HTTP server together and serves until SIGTERM/SIGINT. */
export async function startExecutor(config: Config): Promise<void> {
  // Lines written while a request is handled carry its reqId, wherever in the executor they are written.
  const logger = withRequestIds(createLogger(config));
  // Every chain is meant to handle its failures; one that does not is a defect, logged with its stack instead of
  // ending the process (and every task's supervision) as Node would.
  process.on("unhandledRejection", (reason) => {
    logger.error("a promise failed without a handler (a defect; please report it)", {
      error: reason instanceof Error ? (reason.stack ?? reason.message) : String(reason),
    });
  });
  const metrics = new ExecutorMetrics();
  const store = await TaskStore.open(config.dataDir, logger, {
    operation: (op, result, seconds) => metrics.storeDuration.observe({ op, result }, seconds),
    fsync: (seconds) => metrics.storeFsyncDuration.observe(seconds),
  });
  const hub = await EventHub.open(config.dataDir, { logger });
  const tokens = config.authTokenFile ? new TokenFile(config.authTokenFile, logger) : undefined;
  const runtimes = await buildRuntimes(config, logger);
  const manager = new TaskManager({
    store,
    hub,
    runtimes,
    logger,
    maxConcurrentTasks: config.maxConcurrentTasks,
    stopGraceMs: config.stopGracePeriodMs,
    onTaskFinished: () => retention.soon(),
  });
  const retention = new RetentionRunner(
    manager,
    store,
    {
      keepPerGroup: config.retainPerGroup,
      ...(config.finishedTaskTtlMs > 0 ? { finishedTtlMs: config.finishedTaskTtlMs } : {}),
      ...(config.maxDataDirBytes > 0 ? { maxTotalBytes: config.maxDataDirBytes } : {}),
    },
    logger,
  );
  metrics.observeTasks(manager, hub);
  const recovered = await manager.recover();
  logger.info("recovered tasks from the data dir", { dataDir: config.dataDir, tasks: recovered.tasks, problems: recovered.problems.length });

  const authWarning = !tokens && listensBeyondLoopback(config);
  const app = createApp({
    manager,
    hub,
    logger,
    maxRequestBytes: config.maxRequestBytes,
    tokens,
    metrics,
    ready: readiness(
      [{ name: "dataDir", run: () => probeDataDir(config.dataDir) }, ...runtimeReadinessChecks(config, READY_CHECK_TIMEOUT_MS - 250)],
      { timeoutMs: READY_CHECK_TIMEOUT_MS },
    ),
    health: () => ({
      status: "healthy",
      auth: tokens ? "enabled" : "disabled",
      modes: runtimes.modes,
      sidecar: config.enableSidecarMode,
      version: EXECUTOR_VERSION,
      ...(authWarning ? { warning: "listening beyond loopback without authentication" } : {}),
    }),
  });
  const server = config.tlsCertFile
    ? https.createServer({ cert: readFileSync(config.tlsCertFile), key: readFileSync(config.tlsKeyFile!) }, app)
    : http.createServer(app);
  server.keepAliveTimeout = 65_000;
  // Requests Node cannot even parse (bad bytes in the request line) still get a JSON error.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === "ECONNRESET") return socket.destroy();
    const body = JSON.stringify({ code: "InvalidRequest", message: `malformed HTTP request: ${error.code ?? error.message}` });
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  if (authWarning) {
    logger.warn("SECURITY: the API listens beyond loopback without authentication; anyone who reaches it can run commands as this user. Set --auth-token-file.", { address: shown });
  }
  logger.info("listening", { address: shown, tls: Boolean(config.tlsCertFile), auth: Boolean(tokens) });

  retention.start(config.retentionIntervalMs);
  void retention.runOnce();
  const reconcileTimer = setInterval(() => void manager.reconcile().catch((error: unknown) => logger.error("reconcile failed", { error: String(error) })), config.reconcileIntervalMs);

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info("shutting down", { signal, stopTasks: config.stopTasksOnShutdown });
    clearInterval(reconcileTimer);
    retention.stop();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // Streams (events, follow) never finish on their own; give ordinary requests a moment first.
    const streamsCut = setTimeout(() => server.closeAllConnections(), 2000);
    await closed;
    clearTimeout(streamsCut);
    await manager.shutdown(config.stopTasksOnShutdown);
    await runtimes.close();
    tokens?.close();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
