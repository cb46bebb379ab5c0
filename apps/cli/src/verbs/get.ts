import type { Command } from "commander";
import type { Context } from "../context.js";
import { formatTasks, parseOutput } from "../format/output.js";
import { action, examples, outputOption } from "./common.js";

async function get(context: Context, options: { output?: string }, names: string[]): Promise<void> {
  const format = parseOutput(options.output);
  const target = await context.target();
  const views = await Promise.all(names.map((name) => target.get(name)));
  const raw = views.length === 1 ? views[0]!.raw : views.map((view) => view.raw);
  context.out(formatTasks(views, raw, format, context.terminal));
}

export function registerGet(program: Command): void {
  const command = program
    .command("get")
    .description("show tasks by name")
    .argument("<name...>", "task names")
    .addOption(outputOption())
    .action(action<{ output?: string }, [string[]]>(get));
  examples(command, ["taskctl get report", "taskctl get report -o yaml", "taskctl get a b -o wide"]);
}
