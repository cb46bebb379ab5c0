import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tokenOfSecret } from "@org/task-api";
import type { Logger } from "@org/task-core";
import { parseConfig, type Config } from "./config.js";
import { Controller } from "./controller.js";
import { KubeApi, loadKubeConfig } from "./kube/client.js";
import { LeaderElector } from "./leader.js";
import { createLogger } from "@org/logging";
import { ControllerMetrics } from "./metrics.js";

/** The bearer token for executors: from the file, else from the Secret's key `token`, else none. */
async function executorToken(config: Config, api: KubeApi): Promise<string | undefined> {
  if (config.executorTokenFile) return readFileSync(config.executorTokenFile, "utf8").trim();
  if (!config.executorTokenSecret) return undefined;
  const token = tokenOfSecret(await api.core.readNamespacedSecret(config.executorTokenSecret));
  if (!token) throw new Error(`Secret ${config.executorTokenSecret.namespace}/${config.executorTokenSecret.name} has no key 'token'`);
  return token;
}

function listen(name: string, address: Config["healthAddr"], handler: Parameters<typeof createServer>[1], logger: Logger): Promise<Server | undefined> {
  if (!address) return Promise.resolve(undefined);
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      const bound = server.address();
      logger.info("listening", { event: "listening", server: name, address: typeof bound === "object" && bound ? `${bound.address}:${bound.port}` : String(bound) });
      resolve(server);
    });
  });
}

async function main(): Promise<void> {
  const config = parseConfig(process.argv);
  const logger = createLogger(config);
  const api = new KubeApi(loadKubeConfig(config.kubeconfig));
  const metrics = new ControllerMetrics();
  const token = await executorToken(config, api);
  const controller = new Controller(config, api, logger, metrics, () => token);
  const elector = config.leaderElect
    ? new LeaderElector({
        coordination: api.coordination,
        namespace: config.leaderElectionNamespace,
        identity: config.identity,
        leaseDurationMs: config.leaseDurationMs,
        renewDeadlineMs: config.renewDeadlineMs,
        retryPeriodMs: config.retryPeriodMs,
        logger,
      })
    : undefined;
  let role: "standby" | "leader" = "standby";

  const servers = await Promise.all([
    listen("health", config.healthAddr, (request, response) => {
      const path = (request.url ?? "/").split("?")[0];
      if (path === "/healthz") {
        response.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (path === "/readyz") {
        // Ready: a standby is ready to take over; a leader once its informers synced and the API server answers.
        const ready = role === "standby" || (controller.synced && controller.apiReachable(60_000));
        response.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ ready, role, synced: controller.synced }) + "\n");
      } else {
        response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      }
    }, logger),
    listen("metrics", config.metricsAddr, (request, response) => {
      if ((request.url ?? "/").split("?")[0] !== "/metrics") {
        response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      metrics.registry.metrics().then(
        (text) => response.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
        (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(String(error)),
      );
    }, logger),
  ]);

  let stopping = false;
  const shutdown = async (signal: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info("shutting down", { event: "shutdown", signal });
    await controller.stop().catch((error: unknown) => logger.warn("stop failed", { event: "stop-failed", error: String(error) }));
    await elector?.release();
    for (const server of servers) server?.close();
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM", 0));
  process.on("SIGINT", () => void shutdown("SIGINT", 0));

  if (elector) {
    logger.info("waiting for the lease", { event: "lease-wait", lease: `${config.leaderElectionNamespace}/task-controller`, identity: config.identity });
    // Losing the lease ends the process: a replica that may have missed renewals must not act any more.
    await elector.acquire(() => void shutdown("lease lost", 1));
  }
  role = "leader";
  metrics.leader.set(1);
  await controller.start();
}

main().catch((error: unknown) => {
  process.stderr.write(`task-controller: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
