import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** Names of the files the keeper writes into a task directory (see docs/task-shim.md). */
export const TaskFiles = {
  pid: "pid",
  exit: "exit",
  stdout: "stdout.log",
  stderr: "stderr.log",
  logTruncated: "log-truncated",
  /** Written by the runtime when the kernel OOM-killed the task, before its cgroup is removed. */
  oomKilled: "oom-killed",
  /** Written by the runtime before it kills a task over its ephemeral-storage limit. */
  evicted: "evicted",
  /** Default working dir of a task with an ephemeral-storage limit. */
  scratch: "work",
} as const;

/**
 * The `pid` file: a keeper's (it owns the task directory), or the claim the runtime puts there when a start timed
 * out (`abandoned`), so that a keeper arriving later runs nothing.
 */
export const PidFileSchema = z.union([
  z.object({
    runId: z.string(),
    keeperPid: z.number().int().positive(),
    pid: z.number().int().positive(),
    startedAt: z.string(),
    abandoned: z.undefined().optional(),
  }),
  z.object({ runId: z.string(), abandoned: z.literal(true) }),
]);
export type PidFile = z.infer<typeof PidFileSchema>;

export const ExitFileSchema = z.object({
  runId: z.string(),
  exitCode: z.number().int(),
  signal: z.number().int().nullable(),
  timedOut: z.boolean(),
  startError: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type ExitFile = z.infer<typeof ExitFileSchema>;

/**
 * Reads and validates a JSON file; undefined when it does not exist. Corrupt content throws.
 *
 * Read synchronously: these are files of a few hundred bytes the keeper has just written (in the page cache), and
 * a read of one takes microseconds, while the promise-based read takes four round trips through the thread pool
 * (open, stat, read, close), each waiting behind whatever else the executor is doing, on the path from the
 * keeper's report to the task's event.
 */
async function readJsonFile<T>(path: string, schema: z.ZodType<T>): Promise<T | undefined> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return schema.parse(JSON.parse(text));
}

export function readPidFile(dir: string): Promise<PidFile | undefined> {
  return readJsonFile(join(dir, TaskFiles.pid), PidFileSchema);
}

export function readExitFile(dir: string): Promise<ExitFile | undefined> {
  return readJsonFile(join(dir, TaskFiles.exit), ExitFileSchema);
}
