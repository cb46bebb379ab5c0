import { hostname } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { DEFAULT_KEEP_PER_GROUP } from "@org/retention";
import { parseSecretRef } from "@org/task-api";
import { parseDuration, parseListenAddress } from "@org/task-core";

/** The controller's configuration, parsed once at start-up. */
export interface Config {
  kubeconfig: string | undefined;
  /** Namespace whose Tasks and TaskSchedules are reconciled; undefined = all. */
  namespace: string | undefined;
  /** Executors of this namespace serve Tasks of every namespace; undefined = each Task's own namespace. */
  executorNamespace: string | undefined;
  executorTokenFile: string | undefined;
  /** `NAMESPACE/NAME` of a Secret whose key `token` is the executors' bearer token. */
  executorTokenSecret: { namespace: string; name: string } | undefined;
  executorLostTimeoutMs: number;
  deleteTimeoutMs: number;
  taskRetentionCount: number;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  identity: string;
  /** `host:port` or undefined for off. */
  healthAddr: { host: string; port: number } | undefined;
  metricsAddr: { host: string; port: number } | undefined;
  workers: number;
  resyncPeriodMs: number;
  logLevel: "error" | "warn" | "info" | "debug";
  logFormat: "json" | "text";
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new InvalidArgumentError("expected a duration such as 500ms, 30s or 1m (a plain number is seconds)");
  return ms;
}

function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number");
  return Number(value);
}

function positiveNumber(value: string): number {
  const number = wholeNumber(value);
  if (number < 1) throw new InvalidArgumentError("expected a number of at least 1");
  return number;
}

function bool(value: string): boolean {
  if (["true", "1", "yes"].includes(value.toLowerCase())) return true;
  if (["false", "0", "no"].includes(value.toLowerCase())) return false;
  throw new InvalidArgumentError("expected true or false");
}

/** `host:port`, `:port`, or `0`/`off` to turn the server off. */
function address(value: string): { host: string; port: number } | undefined {
  if (value === "off" || value === "0") return undefined;
  const parsed = parseListenAddress(value);
  if (!parsed) throw new InvalidArgumentError("expected host:port, :port, or off");
  return parsed;
}

function secretRef(value: string): { namespace: string; name: string } {
  const ref = parseSecretRef(value);
  if (!ref) throw new InvalidArgumentError("expected NAMESPACE/NAME");
  return ref;
}

function oneOf<T extends string>(...choices: T[]) {
  return (value: string): T => {
    if (!choices.includes(value as T)) throw new InvalidArgumentError(`expected one of ${choices.join(", ")}`);
    return value as T;
  };
}

/** The command line, every flag with its environment variable and default (shown by `--help`). */
export function controllerCommand(): Command {
  const option = (flags: string, description: string) => new Option(flags, description);
  return new Command("task-controller")
    .description("Places Task objects (tasks.org.dev) on executor pods, drives them through the executor API, runs TaskSchedules and keeps the newest Tasks per app.")
    .addOption(option("--kubeconfig <path>", "kubeconfig file (else KUBECONFIG, else in-cluster)").env("KUBECONFIG"))
    .addOption(option("--namespace <ns>", "reconcile Tasks and TaskSchedules of this namespace only (default: all)").env("TASK_CONTROLLER_NAMESPACE"))
    .addOption(option("--executor-namespace <ns>", "executor pods of this namespace serve Tasks of every namespace (default: each Task's own namespace)").env("EXECUTOR_NAMESPACE"))
    .addOption(option("--executor-token-file <path>", "file holding the bearer token sent to executors").env("EXECUTOR_TOKEN_FILE"))
    .addOption(option("--executor-token-secret <ns/name>", "Secret whose key 'token' is the bearer token sent to executors").env("EXECUTOR_TOKEN_SECRET").argParser(secretRef))
    .addOption(option("--executor-lost-timeout <duration>", "an executor pod not Ready or not answering this long is lost; its unfinished Tasks fail or are placed again").default(30_000, "30s").argParser(duration))
    .addOption(option("--delete-timeout <duration>", "how long a deleted Task waits for an unreachable executor to drop it").default(60_000, "60s").argParser(duration))
    .addOption(option("--task-retention-count <n>", "newest Tasks kept per namespace and app (label app.kubernetes.io/name); 0 = keep all").default(DEFAULT_KEEP_PER_GROUP).argParser(wholeNumber))
    .addOption(option("--leader-elect [bool]", "elect a leader through a Lease; only the leader reconciles").default(true).argParser(bool))
    .addOption(option("--leader-election-namespace <ns>", "namespace of the Lease 'task-controller'").env("POD_NAMESPACE").default("default"))
    .addOption(option("--leader-elect-lease-duration <duration>", "how long a standby waits before taking over an unrenewed lease").default(15_000, "15s").argParser(duration))
    .addOption(option("--leader-elect-renew-deadline <duration>", "how long the leader retries renewing before it gives up leading").default(10_000, "10s").argParser(duration))
    .addOption(option("--leader-elect-retry-period <duration>", "period of acquire and renew attempts").default(2_000, "2s").argParser(duration))
    .addOption(option("--identity <id>", "this replica's name in the Lease").env("POD_NAME").default(`${hostname()}-${process.pid}`))
    .addOption(option("--health-addr <addr>", "address of /healthz and /readyz (off or 0 to disable)").default(address(":8081"), ":8081").argParser(address))
    .addOption(option("--metrics-addr <addr>", "address of the Prometheus /metrics (off or 0 to disable)").default(address(":8080"), ":8080").argParser(address))
    .addOption(option("--workers <n>", "Tasks reconciled at once").default(8).argParser(positiveNumber))
    .addOption(option("--resync-period <duration>", "period of the full re-check of every object (a safety net; changes are event-driven)").default(30_000, "30s").argParser(duration))
    .addOption(option("--log-level <level>", "error, warn, info or debug").env("LOG_LEVEL").default("info").argParser(oneOf("error", "warn", "info", "debug")))
    .addOption(option("--log-format <format>", "json or text").env("LOG_FORMAT").default("json").argParser(oneOf("json", "text")))
    .showHelpAfterError()
    .allowExcessArguments(false);
}

/** Parses the command line (and environment) into a {@link Config}; exits with usage on bad input. */
export function parseConfig(argv: string[]): Config {
  const command = controllerCommand();
  command.parse(argv);
  const o = command.opts();
  return {
    kubeconfig: o.kubeconfig,
    namespace: o.namespace,
    executorNamespace: o.executorNamespace,
    executorTokenFile: o.executorTokenFile,
    executorTokenSecret: o.executorTokenSecret,
    executorLostTimeoutMs: o.executorLostTimeout,
    deleteTimeoutMs: o.deleteTimeout,
    taskRetentionCount: o.taskRetentionCount,
    leaderElect: o.leaderElect,
    leaderElectionNamespace: o.leaderElectionNamespace,
    leaseDurationMs: o.leaderElectLeaseDuration,
    renewDeadlineMs: o.leaderElectRenewDeadline,
    retryPeriodMs: o.leaderElectRetryPeriod,
    identity: o.identity,
    healthAddr: o.healthAddr,
    metricsAddr: o.metricsAddr,
    workers: o.workers,
    resyncPeriodMs: o.resyncPeriod,
    logLevel: o.logLevel,
    logFormat: o.logFormat,
  };
}
