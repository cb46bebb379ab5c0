import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { contextFor, type Context } from "../context.js";
import { OUTPUT_FORMATS } from "../format/output.js";

/** Collects a repeatable option's values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `K=V` pairs (labels, env) into a record; names the flag in the error. */
export function keyValues(pairs: string[] | undefined, flag: string, separator = "="): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf(separator);
    if (at <= 0) throw new UsageError(`${flag} takes KEY${separator}VALUE, got '${pair}'`);
    result[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return result;
}

export function outputOption(): Option {
  return new Option("-o, --output <format>", `output format: ${OUTPUT_FORMATS.join("|")} (default: table)`);
}

/** Runs a verb with its context, its options and its arguments; its exit code becomes taskctl's. */
export function action<O, A extends unknown[] = string[]>(run: (context: Context, options: O, ...args: A) => Promise<void>) {
  return async function (this: Command, ...args: unknown[]): Promise<void> {
    const context = contextFor(this);
    await run(context, this.opts<O & Record<string, unknown>>(), ...(args.slice(0, -2) as A));
    if (context.exitCode !== 0) process.exitCode = context.exitCode;
  };
}

/** `Examples:` after a verb's help. */
export function examples(command: Command, lines: string[]): Command {
  return command.addHelpText("after", `\nExamples:\n${lines.map((line) => `  ${line}`).join("\n")}\n`);
}
