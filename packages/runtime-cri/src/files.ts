/**
 * What the container runtime keeps in a task's directory, so a task's outcome survives the removal of its
 * container and an executor restart.
 *
 * - `container.log`, `container.log.1` — the container's output in CRI log format (written by the CRI runtime)
 * - `log-truncated` — empty marker: a rotation replaced an older `.1`, output was dropped
 * - `container-timeout` — marker: the runtime stopped the container for its timeout (content: when)
 * - `container-exit.json` — the ExitResult, written (temp file + rename) once the container's status is collected
 */
import { access, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ExitResult } from "@org/task-core";
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

export async function readExit(dir: string): Promise<ExitResult | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, Files.exit), "utf8");
  } catch {
    return undefined;
  }
  try {
    const result = JSON.parse(text) as ExitResult;
    return (await exists(join(dir, Files.logTruncated))) ? { ...result, logTruncated: true } : result;
  } catch {
    return undefined;
  }
}

export async function writeExit(dir: string, result: ExitResult): Promise<void> {
  const temp = join(dir, `.${Files.exit}.${process.pid}.tmp`);
  await writeFile(temp, JSON.stringify(result));
  await rename(temp, join(dir, Files.exit));
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
