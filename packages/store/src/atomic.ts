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
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);
const renamePath = promisify(rename);
const unlinkPath = promisify(unlink);

/** Told how long each fsync took (the store's metrics hook). */
export type SyncObserver = (seconds: number) => void;

/** Runs a flush (fsync, fdatasync) and tells the observer how long it took. */
export async function timedFlush(flush: () => Promise<void>, onSync: SyncObserver | undefined): Promise<void> {
  if (!onSync) return flush();
  const started = process.hrtime.bigint();
  await flush();
  onSync(Number(process.hrtime.bigint() - started) / 1e9);
}

const timedSync = (fd: number, onSync: SyncObserver | undefined): Promise<void> => timedFlush(() => fsyncFd(fd), onSync);

/**
 * Writes a file so that readers see either the old or the new content, also after a power cut:
 * temp file, fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(path: string, data: string | Buffer | FileContent, onSync?: SyncObserver): Promise<void> {
  const temp = `${path}${TEMP_MARKER}${randomBytes(6).toString("hex")}`;
  const fd = await openFd(temp, "w", 0o600);
  try {
    if (typeof data === "function") await writeInChunks(fd, data);
    else await writeFd(fd, data);
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

/** Content produced piece by piece: `write` takes the next piece and resolves to its size in bytes. */
export type FileContent = (write: (piece: string) => Promise<number>) => Promise<void>;

/** Collects pieces into writes of about 1 MiB. */
async function writeInChunks(fd: number, content: FileContent): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const drain = async () => {
    if (pendingBytes === 0) return;
    const chunk = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await writeFd(fd, chunk);
  };
  await content(async (piece) => {
    const buffer = Buffer.from(piece);
    pending.push(buffer);
    pendingBytes += buffer.length;
    if (pendingBytes >= 1 << 20) await drain();
    return buffer.length;
  });
  await drain();
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

