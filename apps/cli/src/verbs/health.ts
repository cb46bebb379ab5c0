import type { Command } from "commander";
import type { Context } from "../context.js";
import { action, examples } from "./common.js";

async function health(context: Context): Promise<void> {
  const target = await context.target();
  context.out(`${target.where}: ${context.terminal.out.green(await target.health())}\n`);
}

export function registerHealth(program: Command): void {
  const command = program.command("health").description("check that the executor (or the cluster's API server) answers").action(action<object, []>(health));
  examples(command, ["taskctl health", "taskctl --executor https://node-1:5758 --ca-file ca.pem --token \"$TOKEN\" health", "taskctl --cluster health"]);
}
