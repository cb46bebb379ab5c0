import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { describeError, EXIT_ERROR, UsageError } from "../errors.js";
import type { Context } from "../context.js";
import { action, examples } from "./common.js";

/** Runs `work` for every name; a failure is reported on its own line and the others still go ahead. */
export async function eachName<T>(context: Context, names: string[], work: (name: string) => Promise<T>): Promise<T[]> {
  const done: T[] = [];
  for (const name of names) {
    try {
      done.push(await work(name));
    } catch (error) {
      context.err(`error: ${name}: ${describeError(error)}\n`);
      context.exitCode = EXIT_ERROR;
    }
  }
  return done;
}

/** Asks a yes/no question on the terminal; only "y" or "yes" agrees. */
export async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
  }
}

interface DeleteOptions {
  all?: boolean;
  yes?: boolean;
  selector?: string;
}

async function remove(context: Context, options: DeleteOptions, names: string[]): Promise<void> {
  if (options.all && names.length > 0) throw new UsageError("give task names or --all, not both");
  if (!options.all && names.length === 0) throw new UsageError("delete needs task names or --all");
  const target = await context.target();
  if (options.all) {
    names = (await target.list(options.selector)).views.filter((view) => !view.deleting).map((view) => view.name);
    if (names.length === 0) {
      context.err("No tasks found.\n");
      return;
    }
    if (!options.yes) {
      if (!context.terminal.interactiveIn) throw new UsageError("delete --all needs --yes when not on a terminal");
      if (!(await confirm(`Delete ${names.length} task(s) on ${target.where}: ${names.join(", ")}?`))) {
        context.err("Nothing deleted.\n");
        return;
      }
    }
  }
  await eachName(context, names, async (name) => {
    await target.delete(name);
    context.out(`task/${name} deleted\n`);
  });
}

export function registerDelete(program: Command): void {
  const command = program
    .command("delete")
    .alias("rm")
    .description("remove tasks: stop them if needed, then drop their record and output")
    .argument("[name...]", "task names")
    .option("--all", "every task (with -l: every matching task); asks first on a terminal")
    .option("-l, --selector <selector>", "with --all: only tasks matching this label selector")
    .option("-y, --yes", "do not ask")
    .action(action<DeleteOptions, [string[]]>(remove));
  examples(command, ["taskctl delete report", "taskctl delete --all -l app=billing", "taskctl delete --all --yes"]);
}
