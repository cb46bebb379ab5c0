import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { close, fsync, open, rename, unlink, writeFile } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";

/** Marks temp files of atomic writes; leftovers after a power cut are recognised by it. */
export const TEMP_MARKER = ".tmp-";

// The callback API on plain descriptors: a task costs several atomic writes, and fs/promises' FileHandle
// (an object per open file, tracked for the garbage collector, a promise per step) costs measurably more CPU per
// write on the executor's hot path than these thin wrappers.
const openFd = promisify(open);
const writeFd = promisify(writeFile) as (fd: number, data: string | Buffer) => Promise<void>;
const writeFilePath = promisify(writeFile) as (path: string, data: string, options: { mode: number }) => Promise<void>;
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);
const renamePath = promisify(rename);
const unlinkPath = promisify(unlink);

/** Told how long each fsync took (the store's metrics hook). */
export type SyncObserver = (seconds: number) => void;

async function timedSync(fd: number, onSync: SyncObserver | undefined): Promise<void> {
  if (!onSync) return fsyncFd(fd);
  const started = process.hrtime.bigint();
  await fsyncFd(fd);
  onSync(Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * Writes a file so that readers see either the old or the new content, also after a power cut:
 * temp file, fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, onSync?: SyncObserver): Promise<void> {
  const temp = `${path}${TEMP_MARKER}${randomBytes(6).toString("hex")}`;
  const fd = await openFd(temp, "w", 0o600);
  try {
    await writeFd(fd, data);
    await timedSync(fd, onSync);
  } catch (error) {
    await closeFd(fd).catch(() => undefined);
    await unlinkPath(temp).catch(() => undefined);
    throw error;
  }
  await closeFd(fd);
  try {
    await renamePath(temp, path);
  } catch (error) {
    await unlinkPath(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path), onSync);
}

/** fsyncs a directory so a rename or unlink in it is durable. */
export async function syncDirectory(dir: string, onSync?: SyncObserver): Promise<void> {
  const fd = await openFd(dir, "r");
  try {
    await timedSync(fd, onSync);
  } finally {
    await closeFd(fd);
  }
}

/**
 * Makes everything written to the data dir's file system durable: syncfs(2) through `sync -f`, one call for any
 * number of files. Where `sync` cannot be run, each of `paths` (files and directories) is fsynced instead.
 */
export async function syncFileSystem(dataDir: string, paths: () => Iterable<string>, onSync?: SyncObserver): Promise<void> {
  const started = process.hrtime.bigint();
  const viaSync = await new Promise<boolean>((resolve, reject) => {
    execFile("sync", ["-f", dataDir], (error) => {
      if (!error) resolve(true);
      else if ((error as NodeJS.ErrnoException).code === "ENOENT") resolve(false);
      else reject(new Error(`sync -f ${dataDir} failed: ${error.message}`));
    });
  });
  if (viaSync) {
    onSync?.(Number(process.hrtime.bigint() - started) / 1e9);
    return;
  }
  for (const path of paths()) {
    const fd = await openFd(path, "r").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined; // removed since: nothing of it to keep
      throw error;
    });
    if (fd === undefined) continue;
    try {
      await timedSync(fd, onSync);
    } finally {
      await closeFd(fd);
    }
  }
}

/** Writes a file by temp file and rename, without fsync: readers see the old or the new content, never a part. */
export async function replaceFile(path: string, data: string): Promise<void> {
  const temp = `${path}${TEMP_MARKER}${randomBytes(6).toString("hex")}`;
  try {
    await writeFilePath(temp, data, { mode: 0o600 });
    await renamePath(temp, path);
  } catch (error) {
    await unlinkPath(temp).catch(() => undefined);
    throw error;
  }
}
