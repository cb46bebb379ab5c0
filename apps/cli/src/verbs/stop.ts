import type { Command } from "commander";
import type { Context } from "../context.js";
import { formatTasks, parseOutput } from "../format/output.js";
import { action, examples, outputOption } from "./common.js";
import { eachName } from "./delete.js";

/** How long stop waits to show the task ended (the executor's default grace period is 10 s). */
const STOP_WAIT_MS = 15_000;

async function stop(context: Context, options: { output?: string }, names: string[]): Promise<void> {
  const format = parseOutput(options.output);
  const target = await context.target();
  const stopped = await eachName(context, names, async (name) => {
    const view = await target.stop(name);
    // The task gets its grace period to end; show it ended when it did, else as it is.
    return view.terminal ? view : target.waitForEnd(name, STOP_WAIT_MS);
  });
  if (stopped.length > 0) context.out(formatTasks(stopped, stopped.length === 1 ? stopped[0]!.raw : stopped.map((view) => view.raw), format, context.terminal));
}

export function registerStop(program: Command): void {
  const command = program
    .command("stop")
    .description("cancel tasks and keep them (they end Cancelled)")
    .argument("<name...>", "task names")
    .addOption(outputOption())
    .action(action<{ output?: string }, [string[]]>(stop));
  examples(command, ["taskctl stop report", "taskctl stop a b c"]);
}
