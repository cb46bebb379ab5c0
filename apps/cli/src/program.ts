import { Command, Option } from "commander";
import { DEFAULT_EXECUTOR, DEFAULT_EXECUTOR_TOKEN_SECRET } from "./context.js";
import { EXIT_ERROR, EXIT_NO_EXIT_CODE, EXIT_USAGE } from "./errors.js";
import { registerApply } from "./verbs/apply.js";
import { registerCompletion } from "./verbs/completion.js";
import { registerDelete } from "./verbs/delete.js";
import { registerGet } from "./verbs/get.js";
import { registerHealth } from "./verbs/health.js";
import { registerList } from "./verbs/list.js";
import { registerLogs } from "./verbs/logs.js";
import { registerRun } from "./verbs/run.js";
import { registerSchedule } from "./verbs/schedule.js";
import { registerStop } from "./verbs/stop.js";
import { registerVersion, clientVersion } from "./verbs/version.js";
import { registerWatch } from "./verbs/watch.js";

const FOOTER = `
Targets:
  Executor mode (default): --executor URL (or TASKCTL_EXECUTOR, default ${DEFAULT_EXECUTOR}), --token, --ca-file.
  Cluster mode: --cluster, or any of --kubeconfig, --context, -n; KUBECONFIG is honoured in cluster mode.
    Logs go through the API server's pod proxy with the token of --token, else of --executor-token-secret (when readable).

Exit codes:
  0    success
  ${EXIT_ERROR}    an error (the message is on stderr)
  ${EXIT_USAGE}    wrong usage (unknown flag, missing argument)
  N    with run --wait or --follow: the task's own exit code
  ${EXIT_NO_EXIT_CODE}  with run --wait or --follow: the task ended without an exit code (cancelled before it
       started, lost) or did not start before --wait-timeout
`;

/** The taskctl command tree. */
export function buildProgram(): Command {
  const program = new Command("taskctl")
    .description("Run and inspect tasks on a task executor or on a cluster's Task resources.")
    .version(clientVersion(), "--version", "print the client version")
    .addOption(new Option("--executor <url>", "executor URL").env("TASKCTL_EXECUTOR").default(DEFAULT_EXECUTOR))
    .addOption(new Option("--token <token>", "bearer token for the executor (cluster mode: sent to executors with logs instead of the Secret's)").env("TASKCTL_TOKEN"))
    .option("--ca-file <file>", "PEM CA bundle for an https executor")
    .option("--cluster", "act on the cluster's Task resources (kubeconfig defaults as kubectl)")
    .option("--kubeconfig <file>", "kubeconfig file (cluster mode)")
    .option("--context <name>", "kubeconfig context (cluster mode)")
    .option("-n, --namespace <namespace>", "namespace (cluster mode)")
    .addOption(
      new Option("--executor-token-secret <ns/name>", "Secret whose key 'token' is sent to executors as X-Executor-Token with logs (cluster mode)")
        .env("TASKCTL_EXECUTOR_TOKEN_SECRET")
        .default(DEFAULT_EXECUTOR_TOKEN_SECRET),
    )
    .option("--no-color", "no colours (also with NO_COLOR set)")
    .addHelpText("after", FOOTER)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerRun(program);
  registerGet(program);
  registerList(program);
  registerLogs(program);
  registerStop(program);
  registerDelete(program);
  registerApply(program);
  registerWatch(program);
  registerSchedule(program);
  registerHealth(program);
  registerVersion(program);
  registerCompletion(program);
  for (const command of program.commands) {
    for (const sub of [command, ...command.commands]) sub.exitOverride().showHelpAfterError("(run with --help for usage)");
  }
  return program;
}
