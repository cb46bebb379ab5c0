import type { Command } from "commander";
import { parseSeconds } from "../duration.js";
import { CliError, UsageError } from "../errors.js";
import type { Context } from "../context.js";
import type { LogRequest, Target } from "../targets/target.js";
import { withSpinner } from "../terminal.js";
import { action, examples } from "./common.js";

interface LogsOptions {
  follow?: boolean;
  tail?: string;
  since?: string;
  sinceTime?: string;
  timestamps?: boolean;
  stream?: string;
}

/** The executor's log query for the flags, checked (kubectl's names). */
export function logRequestFrom(options: LogsOptions): LogRequest {
  if (options.since && options.sinceTime) throw new UsageError("--since and --since-time are exclusive");
  const request: LogRequest = {};
  if (options.stream !== undefined) {
    if (!["stdout", "stderr", "all"].includes(options.stream)) throw new UsageError(`--stream must be stdout, stderr or all, got '${options.stream}'`);
    request.stream = options.stream as LogRequest["stream"] & string;
  }
  if (options.tail !== undefined) {
    if (!/^\d+$/.test(options.tail)) throw new UsageError(`--tail takes a number of lines, got '${options.tail}'`);
    request.tailLines = Number(options.tail);
  }
  if (options.since) request.sinceSeconds = Math.max(1, parseSeconds(options.since, "--since"));
  if (options.sinceTime) {
    if (Number.isNaN(Date.parse(options.sinceTime)) || !/^\d{4}-\d\d-\d\dT/.test(options.sinceTime)) {
      throw new UsageError(`--since-time takes an RFC 3339 time (2024-05-01T10:00:00Z), got '${options.sinceTime}'`);
    }
    request.sinceTime = options.sinceTime;
  }
  if (options.timestamps) request.timestamps = true;
  return request;
}

/**
 * Streams a task's output as it is written until the task ends. With `split`, stdout goes to stdout and
 * stderr to stderr (as `run -f` does); otherwise the asked stream(s) go to stdout.
 */
export async function streamOutput(target: Target, name: string, request: LogRequest, split: boolean): Promise<void> {
  const pipe = async (part: LogRequest, sink: NodeJS.WriteStream) => {
    const stream = await target.followLogs(name, part);
    for await (const chunk of stream) {
      if (!sink.write(chunk as Buffer)) await new Promise((resolve) => sink.once("drain", resolve));
    }
  };
  if (!split) return pipe(request, process.stdout);
  await Promise.all([pipe({ ...request, stream: "stdout" }, process.stdout), pipe({ ...request, stream: "stderr" }, process.stderr)]);
}

async function logs(context: Context, options: LogsOptions, name: string): Promise<void> {
  const request = logRequestFrom(options);
  const target = await context.target();
  let view = await target.get(name);
  if (!view.hasStarted && !view.terminal) {
    if (!options.follow) throw new CliError(`task ${name} has not started yet (${view.state}${view.reason ? `, ${view.reason}` : ""}): no output; use -f to wait for it`);
    view = await withSpinner(context.terminal, `waiting for task ${name} to start`, () => target.waitForStart(name, undefined));
  }
  if (!view.hasStarted) {
    if (options.follow) return;
    throw new CliError(`task ${name} ended before it started (${view.reason ?? view.state}): it has no output`);
  }
  if (options.follow) return streamOutput(target, name, request, false);
  process.stdout.write(await target.logs(name, request));
}

export function registerLogs(program: Command): void {
  const command = program
    .command("logs")
    .description("print a task's output")
    .argument("<name>", "task name")
    .option("-f, --follow", "stream new output until the task ends (waits for a task that has not started)")
    .option("--tail <lines>", "only the last N lines")
    .option("--since <duration>", "only output newer than this (10s, 5m)")
    .option("--since-time <time>", "only output written after this RFC 3339 time")
    .option("--timestamps", "prefix each line with the time it was written")
    .option("--stream <stream>", "stdout, stderr or all (default all)")
    .action(action<LogsOptions, [string]>(logs));
  examples(command, ["taskctl logs report", "taskctl logs -f --tail 20 report", "taskctl logs --stream stderr --since 5m report"]);
}
