import type { Command } from "commander";
import type { Context } from "../context.js";
import { action } from "./common.js";

async function health(context: Context): Promise<void> {
  const target = await context.target();
  context.out(`${target.where}: ${context.terminal.out.green(await target.health())}\n`);
}

export function registerHealth(program: Command): void {
  program.command("health").description("check that the executor (or the cluster's API server) answers").action(action<object, []>(health));
}
