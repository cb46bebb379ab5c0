/**
 * What the container runtime keeps in a task's directory, so a task's outcome survives the removal of its
 * container and an executor restart.
 *
 * - `container.log`, `container.log.1` — the container's output in CRI log format (written by the CRI runtime)
 * - `log-truncated` — empty marker: a rotation replaced an older `.1`, output was dropped
 * - `container-timeout` — marker: the runtime stopped the container for its timeout (content: when)
 * - `container-exit.json` — the ExitResult, written (temp file + rename) once the container's status is collected
 * - `container-start.json` — the start intent: the sandbox and container a start is about to start, written
 *   (fsynced) before StartContainer is sent. From then on the task is that container's, whatever happens: a
 *   restart adopts it, starts it (if it is still only created: a CRI container starts at most once) or reports its
 *   failed start, and never creates another one, so a start cut off by the executor's death never runs twice.
 */
import { access, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@org/store";
import { silentLogger, type ExitResult, type Logger } from "@org/task-core";
import { CONTAINER_LOG } from "./mapping.js";

export const Files = {
  log: CONTAINER_LOG,
  rotatedLog: `${CONTAINER_LOG}.1`,
  logTruncated: "log-truncated",
  timeout: "container-timeout",
  exit: "container-exit.json",
  startIntent: "container-start.json",
} as const;

/** What {@link writeStartIntent} records. */
export interface StartIntent {
  sandboxId: string;
  containerId: string;
  image?: string;
}

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
export function writeExit(dir: string, result: ExitResult): Promise<void> {
  return writeFileAtomic(join(dir, Files.exit), JSON.stringify(result));
}

/** Records, durably, that StartContainer is about to be sent for this container (see {@link Files}). */
export function writeStartIntent(dir: string, intent: StartIntent): Promise<void> {
  return writeFileAtomic(join(dir, Files.startIntent), JSON.stringify(intent));
}

/**
 * The start intent, or undefined when none was written. One that cannot be read or parsed is an error: a start
 * may have been sent, and taking it for "never started" could run the task twice.
 */
export async function readStartIntent(dir: string): Promise<StartIntent | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, Files.startIntent), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const intent = JSON.parse(text) as Partial<StartIntent>;
  if (typeof intent.sandboxId !== "string" || typeof intent.containerId !== "string") {
    throw new Error(`the start intent ${join(dir, Files.startIntent)} names no sandbox and container: ${text.slice(0, 200)}`);
  }
  return intent as StartIntent;
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
