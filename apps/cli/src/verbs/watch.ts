import type { Command } from "commander";
import type { Context } from "../context.js";
import { tasksTable } from "../format/output.js";
import { taskRow } from "../format/rows.js";
import type { TaskEventView } from "../targets/target.js";
import type { TaskView } from "../view.js";
import { action, examples } from "./common.js";

/** One plain line per change, for pipes: `TIME EVENT NAME STATE EXIT REASON`. */
export function eventLine(event: TaskEventView, now = new Date()): string {
  const [name, state, exit, reason] = taskRow(event.view, false, now.getTime());
  return `${[now.toISOString(), event.type, name, state, exit || "-", reason || "-"].join(" ")}\n`;
}

async function watch(context: Context, options: { selector?: string }): Promise<void> {
  const target = await context.target();
  const live = context.terminal.columns !== undefined;
  const tasks = new Map<string, TaskView>();
  if (live) for (const view of (await target.list(options.selector)).views) tasks.set(view.name, view);
  const draw = () => {
    const views = [...tasks.values()];
    process.stdout.write(`\x1b[H\x1b[2J${target.where} (Ctrl-C to stop)\n\n${views.length > 0 ? tasksTable(views, false, context.terminal) : "No tasks.\n"}`);
  };
  if (live) draw();
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  process.once("SIGTERM", () => controller.abort());
  await target.watch(
    options.selector,
    (event) => {
      if (!live) return context.out(eventLine(event));
      if (event.type === "deleted") tasks.delete(event.view.name);
      else tasks.set(event.view.name, event.view);
      draw();
    },
    controller.signal,
  );
}

export function registerWatch(program: Command): void {
  const command = program
    .command("watch")
    .description("follow task changes: a live table on a terminal, one line per change when piped")
    .option("-l, --selector <selector>", "label selector in kubectl's syntax")
    .action(action<{ selector?: string }, []>(watch));
  examples(command, ["taskctl watch", "taskctl watch -l app=billing | grep terminated"]);
}
