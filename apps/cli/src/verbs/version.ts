import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describeError } from "../errors.js";
import type { Context } from "../context.js";
import { action, examples } from "./common.js";

/** taskctl's own version, from its package.json. */
export function clientVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

async function version(context: Context): Promise<void> {
  context.out(`Client Version: ${clientVersion()}\n`);
  const target = await context.target();
  try {
    const server = await target.serverVersion();
    context.out(`Server: ${target.where}${server ? ` ${server}` : " (reachable; reports no version)"}\n`);
  } catch (error) {
    context.out(`Server: ${target.where} not reachable: ${describeError(error)}\n`);
  }
}

export function registerVersion(program: Command): void {
  const command = program.command("version").description("print the client version and, when reachable, the server's").action(action<object, []>(version));
  examples(command, ["taskctl version", "taskctl --cluster version"]);
}
