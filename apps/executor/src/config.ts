import { Command, InvalidArgumentError, Option } from "commander";
import { parseBoolean, parseByteSize, parseDuration, parseListenAddress } from "./units.js";

/** The executor's configuration, parsed once at start-up. */
export interface Config {
  dataDir: string;
  listen: { host: string; port: number };
  enableSidecarMode: boolean;
  mainContainerName: string;
  enableContainerMode: boolean;
  criSocket: string;
  /** Container volumes: name → host directory. */
  volumes: Record<string, string>;
  reconcileIntervalMs: number;
  maxConcurrentTasks: number;
  stopGracePeriodMs: number;
  logLevel: "error" | "warn" | "info" | "debug";
  logFormat: "json" | "text";
  maxLogBytesPerTask: number;
  retainPerGroup: number;
  finishedTaskTtlMs: number;
  maxDataDirBytes: number;
  retentionIntervalMs: number;
  maxRequestBytes: number;
  authTokenFile: string | undefined;
  tlsCertFile: string | undefined;
  /** The task-shim binary of process and sidecar mode; undefined = the one built into the executor. */
  taskShimPath: string | undefined;
  tlsKeyFile: string | undefined;
  stopTasksOnShutdown: boolean;
}

/** What each kind of value accepts, for help and error messages. */
const DURATION = "a duration: 500ms, 10s, 1m30s, 2h (a plain number is seconds)";
const SIZE = "a size: bytes or a Kubernetes quantity such as 10Mi or 1G";

/** Turns a parser that answers undefined for bad input into a commander argument parser. */
function checked<T>(parse: (text: string) => T | undefined, expected: string) {
  return (value: string): T => {
    const parsed = parse(value);
    if (parsed === undefined) throw new InvalidArgumentError(`expected ${expected}`);
    return parsed;
  };
}

const text = (value: string) => value;
const positiveDuration = (value: string) => {
  const ms = parseDuration(value);
  return ms !== undefined && ms > 0 ? ms : undefined;
};
const wholeNumber = (value: string) => (/^\d+$/.test(value) ? Number(value) : undefined);
const oneOf =
  <T extends string>(...choices: T[]) =>
  (value: string) =>
    choices.includes(value as T) ? (value as T) : undefined;

interface OptionSpec<T> {
  /** `--name <value>`; booleans take an optional value (`--flag`, `--flag=false`). */
  flag: string;
  env: string;
  description: string;
  parse: (text: string) => T | undefined;
  expected: string;
  /** The default (parsed) and how help shows it. */
  default?: [T, string];
  boolean?: boolean;
}

/** One flag: its environment variable, parser and default live here, and commander applies them (and shows them in --help). */
function option<T>(spec: OptionSpec<T>): Option {
  const option = new Option(`--${spec.flag} ${spec.boolean ? "[bool]" : "<value>"}`, spec.description)
    .env(spec.env)
    .argParser(checked(spec.parse, spec.expected));
  if (spec.boolean) option.preset("true");
  if (spec.default) option.default(spec.default[0], spec.default[1]);
  return option;
}

const bool = (flag: string, env: string, description: string) =>
  option({ flag, env, description, parse: parseBoolean, expected: "true or false", default: [false, "false"], boolean: true });

/** Every flag, its environment variable and default (the guide's names where it has them). */
const OPTIONS = [
  option({ flag: "data-dir", env: "DATA_DIR", description: "directory of task state and logs", parse: text, expected: "a path", default: ["/var/lib/sandbox/tasks", "/var/lib/sandbox/tasks"] }),
  option({ flag: "listen-addr", env: "LISTEN_ADDR", description: "address and port of the HTTP API ([::1]:5758 for IPv6, port 0 = any)", parse: parseListenAddress, expected: "host:port", default: [{ host: "0.0.0.0", port: 5758 }, "0.0.0.0:5758"] }),
  bool("enable-sidecar-mode", "ENABLE_SIDECAR_MODE", "run process tasks inside the main container's namespaces (nsenter)"),
  option({ flag: "main-container-name", env: "MAIN_CONTAINER_NAME", description: "main container to enter in sidecar mode (matched by SANDBOX_MAIN_CONTAINER in its env)", parse: text, expected: "a name", default: ["main", "main"] }),
  bool("enable-container-mode", "ENABLE_CONTAINER_MODE", "run container tasks through the CRI runtime"),
  option({ flag: "cri-socket", env: "CRI_SOCKET", description: "CRI runtime socket for container mode", parse: text, expected: "a path", default: ["/var/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock"] }),
  option({ flag: "reconcile-interval", env: "RECONCILE_INTERVAL", description: `period of the reconcile loop (safety net; status is event-driven); ${DURATION}`, parse: positiveDuration, expected: `${DURATION}, more than 0`, default: [500, "500ms"] }),
  option({ flag: "max-concurrent-tasks", env: "MAX_CONCURRENT_TASKS", description: "tasks running at once; more wait as Queued (0 = unlimited)", parse: wholeNumber, expected: "a whole number", default: [0, "0"] }),
  option({ flag: "stop-grace-period", env: "STOP_GRACE_PERIOD", description: `time between SIGTERM and SIGKILL when stopping a task; ${DURATION}`, parse: parseDuration, expected: DURATION, default: [10_000, "10s"] }),
  option({ flag: "log-level", env: "LOG_LEVEL", description: "error, warn, info or debug", parse: oneOf("error", "warn", "info", "debug"), expected: "error, warn, info or debug", default: ["info", "info"] }),
  option({ flag: "log-format", env: "LOG_FORMAT", description: "json (one object per line) or text", parse: oneOf("json", "text"), expected: "json or text", default: ["json", "json"] }),
  option({ flag: "max-log-bytes-per-task", env: "MAX_LOG_BYTES_PER_TASK", description: `cap of one task's logs, the newest output is kept (0 = no cap); ${SIZE}`, parse: parseByteSize, expected: SIZE, default: [10 * 2 ** 20, "10Mi"] }),
  option({ flag: "retain-per-group", env: "RETAIN_PER_GROUP", description: "newest tasks kept per group (label app.kubernetes.io/name or app); 0 = no limit", parse: wholeNumber, expected: "a whole number", default: [500, "500"] }),
  option({ flag: "finished-task-ttl", env: "FINISHED_TASK_TTL", description: `retire finished tasks this long after they finished (0 = never); ${DURATION}`, parse: parseDuration, expected: DURATION, default: [0, "0 (off)"] }),
  option({ flag: "max-data-dir-bytes", env: "MAX_DATA_DIR_BYTES", description: `disk budget of the data dir, oldest finished tasks are retired first (0 = none); ${SIZE}`, parse: parseByteSize, expected: SIZE, default: [0, "0 (off)"] }),
  option({ flag: "retention-interval", env: "RETENTION_INTERVAL", description: `period of the retention pass (also run after tasks finish); ${DURATION}`, parse: positiveDuration, expected: `${DURATION}, more than 0`, default: [30_000, "30s"] }),
  option({ flag: "max-request-bytes", env: "MAX_REQUEST_BYTES", description: `largest request body accepted; ${SIZE}`, parse: parseByteSize, expected: SIZE, default: [4 * 2 ** 20, "4Mi"] }),
  option({ flag: "auth-token-file", env: "AUTH_TOKEN_FILE", description: "file of bearer tokens, one per line; when set every endpoint but /health needs one", parse: text, expected: "a path" }),
  option({ flag: "task-shim-path", env: "TASK_SHIM_PATH", description: "the task-shim binary that starts and keeps process tasks (default: the one built into the executor)", parse: text, expected: "a path" }),
  option({ flag: "tls-cert-file", env: "TLS_CERT_FILE", description: "serve HTTPS with this certificate (PEM)", parse: text, expected: "a path" }),
  option({ flag: "tls-key-file", env: "TLS_KEY_FILE", description: "private key of --tls-cert-file (PEM)", parse: text, expected: "a path" }),
  bool("stop-tasks-on-shutdown", "STOP_TASKS_ON_SHUTDOWN", "stop running tasks on SIGTERM instead of leaving them running"),
];

const VOLUME = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)=(\/.*)$/;

/** `--volume NAME=/host/path`, repeatable. */
function volumeOption(): Option {
  return new Option("--volume <NAME=HOSTPATH>", "host directory container tasks may mount by name (repeatable)")
    .argParser((value: string, previous: Record<string, string> | undefined) => {
      const match = VOLUME.exec(value);
      if (!match) throw new InvalidArgumentError("expected NAME=/absolute/host/path");
      return { ...previous, [match[1]!]: match[2]! };
    })
    .default({});
}

export class ConfigError extends Error {}

/** Parses argv (without node and script) and the environment into a Config; flags override the environment. */
export function parseConfig(argv: string[]): Config {
  const program = new Command("task-executor")
    .description("Runs short-lived tasks on this node and serves the task executor HTTP API.")
    .exitOverride()
    .configureOutput({ writeErr: (message) => process.stderr.write(message) })
    .allowExcessArguments(false)
    .addHelpText("after", `\nFlags override environment variables. Durations: ${DURATION}. Sizes: ${SIZE}.`);
  for (const item of OPTIONS) program.addOption(item);
  program.addOption(volumeOption());
  program.parse(argv, { from: "user" });
  const o = program.opts();
  const config: Config = {
    dataDir: o.dataDir,
    listen: o.listenAddr,
    enableSidecarMode: o.enableSidecarMode,
    mainContainerName: o.mainContainerName,
    enableContainerMode: o.enableContainerMode,
    criSocket: o.criSocket,
    volumes: o.volume,
    reconcileIntervalMs: o.reconcileInterval,
    maxConcurrentTasks: o.maxConcurrentTasks,
    stopGracePeriodMs: o.stopGracePeriod,
    logLevel: o.logLevel,
    logFormat: o.logFormat,
    maxLogBytesPerTask: o.maxLogBytesPerTask,
    retainPerGroup: o.retainPerGroup,
    finishedTaskTtlMs: o.finishedTaskTtl,
    maxDataDirBytes: o.maxDataDirBytes,
    retentionIntervalMs: o.retentionInterval,
    maxRequestBytes: o.maxRequestBytes,
    authTokenFile: o.authTokenFile,
    tlsCertFile: o.tlsCertFile,
    taskShimPath: o.taskShimPath,
    tlsKeyFile: o.tlsKeyFile,
    stopTasksOnShutdown: o.stopTasksOnShutdown,
  };
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError("--tls-cert-file and --tls-key-file go together");
  }
  return config;
}

/** True when the API listens beyond loopback. */
export function listensBeyondLoopback(config: Config): boolean {
  const host = config.listen.host;
  return !(host === "localhost" || host === "::1" || host.startsWith("127."));
}
