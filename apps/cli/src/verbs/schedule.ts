import type { Command } from "commander";
import { ConcurrencyPolicies, SCHEDULE_LABEL, TASK_API_VERSION, TASK_SCHEDULE_KIND, type TaskScheduleResource } from "@org/task-api";
import { parseSeconds } from "../duration.js";
import { UsageError } from "../errors.js";
import { requireCluster, type Context } from "../context.js";
import { formatTasks, parseOutput, serialize } from "../format/output.js";
import { renderTable } from "../format/table.js";
import type { ClusterTarget } from "../targets/cluster.js";
import { SCHEDULE_HEADERS, scheduleRow, taskFromSchedule } from "../targets/cluster-convert.js";
import { action, collect, examples, outputOption } from "./common.js";
import { eachName } from "./delete.js";
import { taskFromRun, type RunOptions } from "./run.js";

interface CreateOptions extends RunOptions {
  schedule?: string;
  cron?: string;
  timeZone?: string;
  concurrencyPolicy?: string;
  suspend?: boolean;
  startingDeadline?: string;
}

async function cluster(context: Context): Promise<ClusterTarget> {
  requireCluster(context, "schedule");
  return (await context.target()) as ClusterTarget;
}

/** The TaskSchedule `schedule create` asks for. */
export function scheduleFromCreate(name: string, namespace: string, command: string[], options: CreateOptions): TaskScheduleResource {
  const schedule = options.schedule ?? options.cron;
  if (!schedule) throw new UsageError("schedule create needs --schedule CRON (e.g. --schedule '*/5 * * * *')");
  if (options.concurrencyPolicy && !(ConcurrencyPolicies as readonly string[]).includes(options.concurrencyPolicy)) {
    throw new UsageError(`--concurrency-policy must be one of ${ConcurrencyPolicies.join(", ")}, got '${options.concurrencyPolicy}'`);
  }
  const task = taskFromRun(name, command, options);
  return {
    apiVersion: TASK_API_VERSION,
    kind: TASK_SCHEDULE_KIND,
    metadata: { name, namespace },
    spec: {
      schedule,
      timeZone: options.timeZone ?? "UTC",
      concurrencyPolicy: (options.concurrencyPolicy as TaskScheduleResource["spec"]["concurrencyPolicy"] | undefined) ?? "Always",
      suspend: Boolean(options.suspend),
      ...(options.startingDeadline ? { startingDeadlineSeconds: Math.max(1, parseSeconds(options.startingDeadline, "--starting-deadline")) } : {}),
      taskTemplate: { ...(task.labels ? { metadata: { labels: task.labels } } : {}), spec: { ...task.spec, terminated: false, backoffLimit: 0 } },
    },
  };
}

function printSchedules(context: Context, schedules: TaskScheduleResource[], raw: unknown, output: string | undefined): void {
  const format = parseOutput(output);
  if (format === "json" || format === "yaml") return context.out(serialize(raw, format));
  if (format === "name") return context.out(schedules.map((schedule) => `taskschedule/${schedule.metadata.name}\n`).join(""));
  if (schedules.length === 0) return context.err("No schedules found.\n");
  context.out(`${renderTable(SCHEDULE_HEADERS.map((header) => context.terminal.out.bold(header)), schedules.map((schedule) => scheduleRow(schedule)))}\n`);
}

function addTaskFlags(command: Command): Command {
  return command
    .option("--env <K=V>", "environment variable of each run (repeatable)", collect)
    .option("--workdir <dir>", "working directory (absolute)")
    .option("--timeout <duration>", "kill a run after this long")
    .option("--label <K=V>", "label of each run (repeatable)", collect)
    .option("--app <name>", "app name label of each run")
    .option("--cpu <quantity>", "CPU limit")
    .option("--memory <quantity>", "memory limit")
    .option("--image <image>", "run as a container from this image")
    .option("--volume <NAME:PATH>", "mount an executor volume (container runs, repeatable)", collect);
}

export function registerSchedule(program: Command): void {
  const schedule = program.command("schedule").description("TaskSchedules: tasks created on a cron schedule (cluster mode)");

  const create = addTaskFlags(
    schedule
      .command("create")
      .description("create a TaskSchedule that runs CMD on a cron schedule")
      .argument("<name>", "schedule name")
      .argument("[command...]", "after '--': the program and its arguments"),
  )
    .option("--schedule <cron>", "cron expression: 5 fields, 6 with seconds, or @hourly, @daily, ...")
    .option("--cron <cron>", "the same as --schedule")
    .option("--time-zone <zone>", "IANA time zone of the schedule (default UTC)")
    .option("--concurrency-policy <policy>", `${ConcurrencyPolicies.join("|")}: what to do when a run is due while one is active`)
    .option("--suspend", "create it suspended")
    .option("--starting-deadline <duration>", "skip a run that could not start within this long of its time")
    .addOption(outputOption())
    .action(
      action<CreateOptions, [string, string[]]>(async (context, options, name, command) => {
        const target = await cluster(context);
        const created = await target.createSchedule(scheduleFromCreate(name, target.namespace, command, options));
        printSchedules(context, [created], created, options.output);
      }),
    );
  examples(create, ["taskctl --cluster schedule create nightly --schedule '0 3 * * *' --time-zone Europe/Berlin -- ./backup.sh", "taskctl -n batch schedule create poll --cron '*/5 * * * *' --concurrency-policy Forbid -- sh -c 'curl -fsS $URL'"]);

  schedule
    .command("list")
    .description("list TaskSchedules")
    .option("-l, --selector <selector>", "label selector")
    .addOption(outputOption())
    .action(
      action<{ selector?: string; output?: string }, []>(async (context, options) => {
        const list = await (await cluster(context)).listSchedules(options.selector);
        printSchedules(context, list.items, list, options.output);
      }),
    );

  schedule
    .command("get")
    .description("show a TaskSchedule")
    .argument("<name>", "schedule name")
    .addOption(outputOption())
    .action(
      action<{ output?: string }, [string]>(async (context, options, name) => {
        const found = await (await cluster(context)).getSchedule(name);
        printSchedules(context, [found], found, options.output);
      }),
    );

  for (const [verb, suspend] of [["suspend", true], ["resume", false]] as const) {
    schedule
      .command(verb)
      .description(suspend ? "stop creating runs (runs already created go on)" : "create runs again")
      .argument("<name...>", "schedule names")
      .action(
        action<object, [string[]]>(async (context, _options, names) => {
          const target = await cluster(context);
          await eachName(context, names, async (name) => {
            await target.patchSchedule(name, { spec: { suspend } });
            context.out(`taskschedule/${name} ${suspend ? "suspended" : "resumed"}\n`);
          });
        }),
      );
  }

  schedule
    .command("run")
    .description("create a run of the schedule now, from its task template")
    .argument("<name>", "schedule name")
    .addOption(outputOption())
    .action(
      action<{ output?: string }, [string]>(async (context, options, name) => {
        const target = await cluster(context);
        const found = await target.getSchedule(name);
        const created = await target.createTask(taskFromSchedule(found, `${name}-manual-${Math.floor(Date.now() / 1000)}`));
        context.out(formatTasks([created], created.raw, parseOutput(options.output), context.terminal));
      }),
    );

  schedule
    .command("history")
    .description("the runs of a schedule, newest first")
    .argument("<name>", "schedule name")
    .addOption(outputOption())
    .action(
      action<{ output?: string }, [string]>(async (context, options, name) => {
        const target = await cluster(context);
        const { views, raw } = await target.list(`${SCHEDULE_LABEL}=${name}`);
        views.sort((a, b) => (b.created ?? "").localeCompare(a.created ?? ""));
        if (views.length === 0 && parseOutput(options.output) === "table") return context.err(`No runs of ${name} found.\n`);
        context.out(formatTasks(views, raw, parseOutput(options.output), context.terminal));
      }),
    );

  schedule
    .command("delete")
    .description("delete TaskSchedules")
    .argument("<name...>", "schedule names")
    .action(
      action<object, [string[]]>(async (context, _options, names) => {
        const target = await cluster(context);
        await eachName(context, names, async (name) => {
          await target.deleteSchedule(name);
          context.out(`taskschedule/${name} deleted\n`);
        });
      }),
    );
}
