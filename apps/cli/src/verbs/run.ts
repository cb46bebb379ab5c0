import type { Command } from "commander";
import type { NewTask, TaskSpec } from "@org/task-core";
import { parseDuration, parseSeconds } from "../duration.js";
import { CliError, EXIT_NO_EXIT_CODE, UsageError } from "../errors.js";
import type { Context } from "../context.js";
import { formatTasks, parseOutput } from "../format/output.js";
import type { Target } from "../targets/target.js";
import { withSpinner } from "../terminal.js";
import type { TaskView } from "../view.js";
import { action, collect, examples, keyValues, outputOption } from "./common.js";
import { streamOutput } from "./logs.js";

export const APP_LABEL = "app.kubernetes.io/name";

export interface RunOptions {
  env?: string[];
  workdir?: string;
  timeout?: string;
  label?: string[];
  app?: string;
  cpu?: string;
  memory?: string;
  image?: string;
  volume?: string[];
  wait?: boolean;
  follow?: boolean;
  waitTimeout?: string;
  output?: string;
}

/** The task `taskctl run NAME [flags] -- CMD ARGS...` asks for. */
export function taskFromRun(name: string, command: string[], options: RunOptions): NewTask {
  const labels = keyValues(options.label, "--label");
  if (options.app) labels[APP_LABEL] = options.app;
  const env = Object.entries(keyValues(options.env, "--env")).map(([envName, value]) => ({ name: envName, value }));
  const limits = { ...(options.cpu ? { cpu: options.cpu } : {}), ...(options.memory ? { memory: options.memory } : {}) };
  const common = {
    ...(command.length > 1 ? { args: command.slice(1) } : {}),
    ...(env.length > 0 ? { env } : {}),
    ...(options.workdir ? { workingDir: options.workdir } : {}),
    ...(options.timeout ? { timeoutSeconds: parseSeconds(options.timeout, "--timeout") } : {}),
    ...(Object.keys(limits).length > 0 ? { resources: { limits } } : {}),
  };
  let spec: TaskSpec;
  if (options.image) {
    const volumeMounts = Object.entries(keyValues(options.volume, "--volume", ":")).map(([volume, mountPath]) => ({ name: volume, mountPath }));
    spec = {
      container: {
        image: options.image,
        ...(command.length > 0 ? { command: [command[0]!] } : {}),
        ...common,
        ...(volumeMounts.length > 0 ? { volumeMounts } : {}),
      },
    };
  } else {
    if (command.length === 0) throw new UsageError("run needs a command after '--' (or --image for a container task)");
    if (options.volume?.length) throw new UsageError("--volume is for container tasks (--image)");
    spec = { process: { command: [command[0]!], ...common } };
  }
  return { name, ...(Object.keys(labels).length > 0 ? { labels } : {}), spec };
}

/**
 * taskctl's exit code for a task waited for: its own exit code, or 125 (with the reason) when it has none:
 * it never started, or its executor lost it.
 */
export function exitCodeFor(view: TaskView): { code: number; problem?: string } {
  const lost = view.reason === "Lost" || view.reason === "ExecutorLost" || view.reason === "ContainerMissing";
  if (view.terminal && view.exitCode !== undefined && view.hasStarted && !lost) return { code: view.exitCode };
  const reason = [view.reason, view.message].filter(Boolean).join(": ");
  if (view.terminal) return { code: EXIT_NO_EXIT_CODE, problem: `task ${view.name} ended without an exit code${reason ? ` (${reason})` : ""}` };
  return { code: EXIT_NO_EXIT_CODE, problem: `task ${view.name} did not start in time: ${view.state}${reason ? ` (${reason})` : ""}` };
}

/** Waits for the end and turns it into taskctl's exit code; a task still running at the deadline is an error. */
async function finish(context: Context, target: Target, name: string, timeoutMs: number | undefined): Promise<TaskView> {
  const view = await target.waitForEnd(name, timeoutMs);
  if (!view.terminal && view.hasStarted) throw new CliError(`task ${name} is still running after --wait-timeout`);
  const { code, problem } = exitCodeFor(view);
  if (problem) context.err(`${problem}\n`);
  context.exitCode = code;
  return view;
}

async function run(context: Context, options: RunOptions, name: string, command: string[]): Promise<void> {
  const format = parseOutput(options.output);
  const task = taskFromRun(name, command, options);
  const timeoutMs = options.waitTimeout ? parseDuration(options.waitTimeout, "--wait-timeout") : undefined;
  const target = await context.target();
  const created = await target.create(task);
  if (options.follow) {
    const started = await withSpinner(context.terminal, `waiting for task ${name} to start`, () => target.waitForStart(name, timeoutMs));
    if (started.hasStarted) await streamOutput(target, name, {}, true);
    await finish(context, target, name, timeoutMs);
    return;
  }
  if (!options.wait) {
    context.out(formatTasks([created], created.raw, format, context.terminal));
    return;
  }
  const ended = await withSpinner(context.terminal, `waiting for task ${name}`, () => finish(context, target, name, timeoutMs));
  context.out(formatTasks([ended], ended.raw, format, context.terminal));
}

export function registerRun(program: Command): void {
  const command = program
    .command("run")
    .description("create a task and (with --wait or --follow) wait for it; exits with the task's exit code then")
    .argument("<name>", "task name")
    .argument("[command...]", "after '--': the program and its arguments")
    .option("--env <K=V>", "environment variable (repeatable)", collect)
    .option("--workdir <dir>", "working directory (absolute)")
    .option("--timeout <duration>", "kill the task after this long (30s, 5m; a number is seconds)")
    .option("--label <K=V>", "label (repeatable)", collect)
    .option("--app <name>", `app name: the label ${APP_LABEL} that retention groups by`)
    .option("--cpu <quantity>", "CPU limit (500m, 2)")
    .option("--memory <quantity>", "memory limit (256Mi)")
    .option("--image <image>", "run as a container from this image instead of a process")
    .option("--volume <NAME:PATH>", "mount the executor's volume NAME at PATH (container tasks, repeatable)", collect)
    .option("--wait", "wait for the end, print the final row, exit with the task's exit code")
    .option("-f, --follow", "stream the task's output while it runs, exit with its exit code")
    .option("--wait-timeout <duration>", "give up waiting after this long")
    .addOption(outputOption())
    .action(action<RunOptions, [string, string[]]>(run));
  examples(command, [
    "taskctl run hello -- echo hello",
    "taskctl run --wait migrate --app billing --timeout 10m -- ./migrate.sh --all",
    "taskctl run -f report --env DEBUG=1 -- sh -c 'echo start; sleep 2; echo done'",
    "taskctl run --image busybox:1.36 --volume data:/data list -- ls /data",
  ]);
}
