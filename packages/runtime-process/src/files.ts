import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

/** Names of the files the keeper writes into a task directory (see docs/task-shim.md). */
export const TaskFiles = {
  /** The keeper's pid record, and once the task ended its exit record as the second line. */
  pid: "pid",
  /** The exit record as a file of its own, as keepers of earlier versions wrote it (still read). */
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
 * A file's text; undefined when it does not exist.
 *
 * Read synchronously: these are files of a few hundred bytes the keeper has just written (in the page cache), and
 * a read of one takes microseconds, while the promise-based read takes four round trips through the thread pool
 * (open, stat, read, close), each waiting behind whatever else the executor is doing, on the path from the
 * keeper's report to the task's event.
 */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The pid file's first line (its only one while the task runs); undefined when there is no pid file. Corrupt content throws. */
export function readPidFile(dir: string): PidFile | undefined {
  const text = readText(join(dir, TaskFiles.pid));
  if (text === undefined) return undefined;
  const end = text.indexOf("\n");
  return PidFileSchema.parse(JSON.parse(end < 0 ? text : text.slice(0, end)));
}

/**
 * The run's exit record: the pid file's second line, which the keeper appends when the task has ended, once it is
 * whole (ends with its newline: a line still being written, or cut by a power cut, is none yet); else an `exit`
 * file, where keepers of earlier versions wrote it. Undefined when neither is there. Corrupt content throws.
 */
export function readExitFile(dir: string): ExitFile | undefined {
  const text = readText(join(dir, TaskFiles.pid));
  const start = text === undefined ? 0 : text.indexOf("\n") + 1;
  const end = start > 0 ? text!.indexOf("\n", start) : -1;
  if (end > start) return ExitFileSchema.parse(JSON.parse(text!.slice(start, end)));
  const legacyText = readTextIfPresent(join(dir, TaskFiles.exit));
  return legacyText === undefined ? undefined : ExitFileSchema.parse(JSON.parse(legacyText));
}

/**
 * A file's text, for files that are usually missing (markers, the legacy `exit` file): asked for with existsSync
 * first, since a failed read throws an error with its stack (a tenth of a millisecond for every task that ends).
 */
export function readTextIfPresent(path: string): string | undefined {
  return existsSync(path) ? readText(path) : undefined;
}
