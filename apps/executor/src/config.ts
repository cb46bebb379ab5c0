import { Command, Option } from "commander";
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
  tlsKeyFile: string | undefined;
  stopTasksOnShutdown: boolean;
}

interface Setting<K extends keyof Config> {
  key: K;
  flag: string;
  env?: string;
  description: string;
  defaultText: string | undefined;
  parse: (text: string) => Config[K] | undefined;
  expected: string;
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

function setting<K extends keyof Config>(spec: Setting<K>): Setting<K> {
  return spec;
}

/** Every flag, its environment variable and default (the guide's names where it has them). */
const SETTINGS = [
  setting({ key: "dataDir", flag: "data-dir", env: "DATA_DIR", description: "directory of task state and logs", defaultText: "/var/lib/sandbox/tasks", parse: text, expected: "a path" }),
  setting({ key: "listen", flag: "listen-addr", env: "LISTEN_ADDR", description: "address and port of the HTTP API", defaultText: "0.0.0.0:5758", parse: parseListenAddress, expected: "host:port" }),
  setting({ key: "enableSidecarMode", flag: "enable-sidecar-mode", env: "ENABLE_SIDECAR_MODE", description: "run process tasks inside the main container's namespaces (nsenter)", defaultText: "false", parse: parseBoolean, expected: "true or false" }),
  setting({ key: "mainContainerName", flag: "main-container-name", env: "MAIN_CONTAINER_NAME", description: "main container to enter in sidecar mode (matched by SANDBOX_MAIN_CONTAINER in its env)", defaultText: "main", parse: text, expected: "a name" }),
  setting({ key: "enableContainerMode", flag: "enable-container-mode", env: "ENABLE_CONTAINER_MODE", description: "run container tasks through the CRI runtime", defaultText: "false", parse: parseBoolean, expected: "true or false" }),
  setting({ key: "criSocket", flag: "cri-socket", env: "CRI_SOCKET", description: "CRI runtime socket for container mode", defaultText: "/var/run/containerd/containerd.sock", parse: text, expected: "a path" }),
  setting({ key: "reconcileIntervalMs", flag: "reconcile-interval", env: "RECONCILE_INTERVAL", description: "period of the reconcile loop (safety net; status is event-driven)", defaultText: "500ms", parse: positiveDuration, expected: "a duration such as 500ms or 2s" }),
  setting({ key: "maxConcurrentTasks", flag: "max-concurrent-tasks", env: "MAX_CONCURRENT_TASKS", description: "tasks running at once; more wait as Queued (0 = unlimited)", defaultText: "0", parse: wholeNumber, expected: "a whole number" }),
  setting({ key: "stopGracePeriodMs", flag: "stop-grace-period", env: "STOP_GRACE_PERIOD", description: "time between SIGTERM and SIGKILL when stopping a task", defaultText: "10s", parse: parseDuration, expected: "a duration such as 10s" }),
  setting({ key: "logLevel", flag: "log-level", env: "LOG_LEVEL", description: "error, warn, info or debug", defaultText: "info", parse: oneOf("error", "warn", "info", "debug"), expected: "error, warn, info or debug" }),
  setting({ key: "logFormat", flag: "log-format", env: "LOG_FORMAT", description: "json or text", defaultText: "json", parse: oneOf("json", "text"), expected: "json or text" }),
  setting({ key: "maxLogBytesPerTask", flag: "max-log-bytes-per-task", env: "MAX_LOG_BYTES_PER_TASK", description: "cap of one task's logs; the newest output is kept (0 = no cap)", defaultText: "10Mi", parse: parseByteSize, expected: "a size such as 10Mi" }),
  setting({ key: "retainPerGroup", flag: "retain-per-group", env: "RETAIN_PER_GROUP", description: "newest tasks kept per group (label app.kubernetes.io/name or app); 0 = no limit", defaultText: "500", parse: wholeNumber, expected: "a whole number" }),
  setting({ key: "finishedTaskTtlMs", flag: "finished-task-ttl", env: "FINISHED_TASK_TTL", description: "retire finished tasks this long after they finished (0 = never)", defaultText: "0", parse: parseDuration, expected: "a duration such as 24h" }),
  setting({ key: "maxDataDirBytes", flag: "max-data-dir-bytes", env: "MAX_DATA_DIR_BYTES", description: "disk budget of the data dir; oldest finished tasks are retired first (0 = none)", defaultText: "0", parse: parseByteSize, expected: "a size such as 5Gi" }),
  setting({ key: "retentionIntervalMs", flag: "retention-interval", env: "RETENTION_INTERVAL", description: "period of the retention pass (also run after tasks finish)", defaultText: "30s", parse: positiveDuration, expected: "a duration" }),
  setting({ key: "maxRequestBytes", flag: "max-request-bytes", env: "MAX_REQUEST_BYTES", description: "largest request body accepted", defaultText: "4Mi", parse: parseByteSize, expected: "a size such as 4Mi" }),
  setting({ key: "authTokenFile", flag: "auth-token-file", env: "AUTH_TOKEN_FILE", description: "file of bearer tokens, one per line; when set every endpoint but /health needs one", defaultText: undefined, parse: text, expected: "a path" }),
  setting({ key: "tlsCertFile", flag: "tls-cert-file", env: "TLS_CERT_FILE", description: "serve HTTPS with this certificate (PEM)", defaultText: undefined, parse: text, expected: "a path" }),
  setting({ key: "tlsKeyFile", flag: "tls-key-file", env: "TLS_KEY_FILE", description: "private key of --tls-cert-file (PEM)", defaultText: undefined, parse: text, expected: "a path" }),
  setting({ key: "stopTasksOnShutdown", flag: "stop-tasks-on-shutdown", env: "STOP_TASKS_ON_SHUTDOWN", description: "stop running tasks on SIGTERM instead of leaving them running", defaultText: "false", parse: parseBoolean, expected: "true or false" }),
] as const;

const BOOLEAN_FLAGS = new Set(["enable-sidecar-mode", "enable-container-mode", "stop-tasks-on-shutdown"]);

export class ConfigError extends Error {}

/** Parses argv (without node and script) and the environment into a Config; flags override env. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const program = new Command("task-executor")
    .description("Runs short-lived tasks on this node and serves the task executor HTTP API.")
    .exitOverride()
    .configureOutput({ writeErr: (message) => process.stderr.write(message) })
    .allowExcessArguments(false);
  for (const item of SETTINGS) {
    const valueHint = BOOLEAN_FLAGS.has(item.flag) ? "[bool]" : "<value>";
    const envText = item.env ? ` (env ${item.env})` : "";
    const option = new Option(`--${item.flag} ${valueHint}`, `${item.description}${envText}`);
    if (item.defaultText !== undefined) option.default(undefined, item.defaultText);
    program.addOption(option);
  }
  program.addOption(new Option("--volume <NAME=HOSTPATH>", "host directory container tasks may mount by name (repeatable)").argParser(
    (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
  ));
  program.parse(argv, { from: "user" });
  const flags = program.opts<Record<string, string | boolean | string[] | undefined>>();

  const config: Record<string, unknown> = {};
  for (const item of SETTINGS) {
    const flagValue = flags[camel(item.flag)];
    const raw = flagValue === true ? "true" : (flagValue as string | undefined) ?? (item.env ? env[item.env] : undefined) ?? item.defaultText;
    if (raw === undefined) {
      config[item.key] = undefined;
      continue;
    }
    const parsed = item.parse(raw);
    if (parsed === undefined) throw new ConfigError(`--${item.flag}: invalid value ${JSON.stringify(raw)}: expected ${item.expected}`);
    config[item.key] = parsed;
  }
  config.volumes = parseVolumes((flags.volume as string[] | undefined) ?? []);
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    throw new ConfigError("--tls-cert-file and --tls-key-file go together");
  }
  return config as unknown as Config;
}

function parseVolumes(entries: string[]): Record<string, string> {
  const volumes: Record<string, string> = {};
  for (const entry of entries) {
    const match = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)=(\/.*)$/.exec(entry);
    if (!match) throw new ConfigError(`--volume: invalid value ${JSON.stringify(entry)}: expected NAME=/absolute/host/path`);
    volumes[match[1]!] = match[2]!;
  }
  return volumes;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** True when the API listens beyond loopback. */
export function listensBeyondLoopback(config: Config): boolean {
  const host = config.listen.host;
  return !(host === "localhost" || host === "::1" || host.startsWith("127."));
}
