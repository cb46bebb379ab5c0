import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { Context } from "../context.js";
import { readManifest } from "../manifest.js";
import type { ApplyResult } from "../targets/target.js";
import { action, examples } from "./common.js";

interface ApplyOptions {
  filename?: string;
  dryRun?: boolean;
}

export function resultLine(result: ApplyResult, dryRun: boolean): string {
  return `${(result.kind ?? "task").toLowerCase()}/${result.name} ${result.action}${dryRun ? " (dry run)" : ""}\n`;
}

async function apply(context: Context, options: ApplyOptions): Promise<void> {
  if (!options.filename) throw new UsageError("apply needs -f FILE (or -f - for stdin)");
  const items = await readManifest(options.filename);
  const target = await context.target();
  const plan = await target.prepareApply(items);
  for (const warning of plan.warnings) context.err(`${context.terminal.err.yellow("warning:")} ${warning}\n`);
  const results = options.dryRun ? plan.preview : await plan.execute();
  for (const result of results) context.out(resultLine(result, Boolean(options.dryRun)));
}

export function registerApply(program: Command): void {
  const command = program
    .command("apply")
    .description(
      "apply a YAML or JSON list of tasks. Executor: the file is the desired set (POST /setTasks): tasks left out are stopped and removed, and taskctl says which before it sends. Cluster: server-side apply of each object; nothing is removed",
    )
    .option("-f, --filename <file>", "the file, or - for stdin")
    .option("--dry-run", "say what would change, change nothing")
    .action(action<ApplyOptions, []>(apply));
  examples(command, ["taskctl apply -f tasks.yaml", "taskctl list -o json | taskctl apply -f -", "taskctl apply --dry-run -f tasks.yaml"]);
}
