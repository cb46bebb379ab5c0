import type { Command } from "commander";
import type { Context } from "../context.js";
import { formatTasks, parseOutput } from "../format/output.js";
import { parseSelector } from "../selector.js";
import { action, examples, outputOption } from "./common.js";

interface ListOptions {
  selector?: string;
  output?: string;
}

async function list(context: Context, options: ListOptions): Promise<void> {
  const format = parseOutput(options.output);
  if (options.selector) parseSelector(options.selector);
  const { views, raw } = await (await context.target()).list(options.selector);
  if (views.length === 0 && (format === "table" || format === "wide")) {
    context.err("No tasks found.\n");
    return;
  }
  context.out(formatTasks(views, raw, format, context.terminal));
}

export function registerList(program: Command): void {
  const command = program
    .command("list")
    .alias("ls")
    .description("list tasks (NAME, STATE, EXIT, REASON, AGE, DURATION)")
    .option("-l, --selector <selector>", "label selector in kubectl's syntax (app=billing,tier!=web)")
    .addOption(outputOption())
    .action(action<ListOptions, []>(list));
  examples(command, ["taskctl list", "taskctl list -l app.kubernetes.io/name=billing -o wide", "taskctl list -o yaml > tasks.yaml && taskctl apply -f tasks.yaml"]);
}
