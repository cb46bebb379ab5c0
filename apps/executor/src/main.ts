import { CommanderError } from "commander";
import { ConfigError, parseConfig } from "./config.js";
import { startExecutor } from "./server.js";

/** Entry point of `task-executor`: parse the configuration, start, and exit non-zero with a clear message on failure. */
async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (error) {
    // Commander printed its message; a bad value (flag or environment) exits 2 like the other configuration errors.
    if (error instanceof CommanderError) process.exit(error.code === "commander.invalidArgument" ? 2 : error.exitCode);
    if (error instanceof ConfigError) {
      process.stderr.write(`task-executor: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  try {
    await startExecutor(config);
  } catch (error) {
    process.stderr.write(`task-executor: cannot start: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`task-executor: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
