import type { Command } from "commander";
import { UsageError } from "./errors.js";
import { ExecutorTarget } from "./targets/executor.js";
import type { Target } from "./targets/target.js";
import { detectTerminal, type Terminal } from "./terminal.js";

export const DEFAULT_EXECUTOR = "http://127.0.0.1:5758";
/** The Secret the controller of deploy/ reads its executor token from (its `--executor-token-secret`). */
export const DEFAULT_EXECUTOR_TOKEN_SECRET = "task-system/task-executor-token";

/** The options every verb takes, before or after its name. */
export interface GlobalOptions {
  executor: string;
  token?: string;
  caFile?: string;
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  executorTokenSecret?: string;
  color: boolean;
}

/** What a verb needs: its terminal and its target (made once, on first use). */
export interface Context {
  terminal: Terminal;
  globals: GlobalOptions;
  target(): Promise<Target>;
  /** Exit code the verb asks for (the task's code with --wait). */
  exitCode: number;
  out(text: string): void;
  err(text: string): void;
}

/** Cluster mode: `--cluster`, or any of `--kubeconfig`, `--context`, `-n` (KUBECONFIG alone does not switch). */
export function isClusterMode(globals: GlobalOptions): boolean {
  return Boolean(globals.cluster || globals.kubeconfig || globals.context || globals.namespace);
}

export function contextFor(command: Command): Context {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const terminal = detectTerminal(globals.color === false);
  let target: Promise<Target> | undefined;
  return {
    terminal,
    globals,
    exitCode: 0,
    target() {
      target ??= makeTarget(globals);
      return target;
    },
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
  };
}

async function makeTarget(globals: GlobalOptions): Promise<Target> {
  if (!isClusterMode(globals)) {
    return new ExecutorTarget({ url: globals.executor, ...(globals.token ? { token: globals.token } : {}), ...(globals.caFile ? { caFile: globals.caFile } : {}) });
  }
  const { ClusterTarget } = await import("./targets/cluster.js");
  return ClusterTarget.connect({
    ...(globals.kubeconfig ? { kubeconfig: globals.kubeconfig } : {}),
    ...(globals.context ? { context: globals.context } : {}),
    ...(globals.namespace ? { namespace: globals.namespace } : {}),
    ...(globals.executorTokenSecret ? { executorTokenSecret: globals.executorTokenSecret } : {}),
    ...(globals.token ? { executorToken: globals.token } : {}),
  });
}

/** Verbs that exist only for a cluster say so in executor mode. */
export function requireCluster(context: Context, verb: string): void {
  if (!isClusterMode(context.globals)) throw new UsageError(`${verb} works on a cluster only: add --cluster (or --kubeconfig, --context, -n)`);
}
