/**
 * What the container runtime keeps in a task's directory, so a task's outcome survives the removal of its
 * container and an executor restart.
 *
 * - `container.log`, `container.log.1` — the container's output in CRI log format (written by the CRI runtime)
 * - `log-truncated` — empty marker: a rotation replaced an older `.1`, output was dropped
 * - `container-timeout` — marker: the runtime stopped the container for its timeout (content: when)
 * - `container-exit.json` — the ExitResult, written (temp file + rename) once the container's status is collected
 */
import { access, open, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { silentLogger, type ExitResult, type Logger } from "@org/task-core";
import { CONTAINER_LOG } from "./mapping.js";

export const Files = {
  log: CONTAINER_LOG,
  rotatedLog: `${CONTAINER_LOG}.1`,
  logTruncated: "log-truncated",
  timeout: "container-timeout",
  exit: "container-exit.json",
} as const;

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The recorded outcome, or undefined when there is none. A record that exists but cannot be read or parsed is
 * logged (it is not silently taken for "no outcome yet") and also answers undefined.
 */
export async function readExit(dir: string, logger: Logger = silentLogger): Promise<ExitResult | undefined> {
  const path = join(dir, Files.exit);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") logger.warn("cannot read the exit record of a container task", { path, error: String(error) });
    return undefined;
  }
  let result: ExitResult;
  try {
    result = JSON.parse(text) as ExitResult;
  } catch (error) {
    logger.error("the exit record of a container task is corrupt", { path, bytes: text.length, error: String(error) });
    return undefined;
  }
  return (await exists(join(dir, Files.logTruncated))) ? { ...result, logTruncated: true } : result;
}

/**
 * Records the outcome so that it survives a power cut: temp file, fsync, rename, fsync of the directory. Only
 * after this may the container (the runtime's copy of the exit code) be removed.
 */
export async function writeExit(dir: string, result: ExitResult): Promise<void> {
  const temp = join(dir, `.${Files.exit}.${process.pid}.tmp`);
  const handle = await open(temp, "w", 0o644);
  try {
    await handle.writeFile(JSON.stringify(result));
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined); // best effort: the write itself failed and is what is reported
    throw error;
  }
  await handle.close();
  await rename(temp, join(dir, Files.exit));
  const directory = await open(dir, "r");
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

export async function markTimedOut(dir: string): Promise<void> {
  await writeFile(join(dir, Files.timeout), new Date().toISOString());
}

export function timedOutMarked(dir: string): Promise<boolean> {
  return exists(join(dir, Files.timeout));
}

export function logTruncated(dir: string): Promise<boolean> {
  return exists(join(dir, Files.logTruncated));
}

/** Forgets the outcome of an earlier attempt before a new start in the same directory. */
export async function clearAttempt(dir: string): Promise<void> {
  await rm(join(dir, Files.exit), { force: true });
  await rm(join(dir, Files.timeout), { force: true });
}
