import { CommanderError } from "commander";
import { buildProgram } from "./program.js";
import { CliError, describeError, EXIT_ERROR, EXIT_USAGE } from "./errors.js";

/** Runs taskctl: every failure becomes one line on stderr and an exit code, never a stack trace. */
async function main(): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander printed the message; help and version are not errors.
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help") return 0;
      return EXIT_USAGE;
    }
    process.stderr.write(`error: ${describeError(error)}\n`);
    return error instanceof CliError ? error.exitCode : EXIT_ERROR;
  }
}

process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
});
process.exit(await main());
