import { existsSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";

const NEWLINE = 0x0a;

/** Size of the pieces files are read in. */
export const CHUNK_BYTES = 64 * 1024;

/** An open file with the identity it had when opened. */
export interface OpenedFile {
  handle: FileHandle;
  /** Device, inode and (where the file system keeps it) birth time: tells a renamed file from a new one. */
  id: string;
  size: number;
}

/** A part of an open file that holds only complete lines. */
export interface ByteRange {
  handle: FileHandle;
  start: number;
  end: number;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** Opens `path` for reading; undefined when it does not exist. Other errors are thrown. */
export async function openIfExists(path: string): Promise<OpenedFile | undefined> {
  // Asked first: most of a task's four log paths do not exist (a stream it never wrote to, no rotation), and a
  // failed open costs a thread-pool trip and an error with its stack, for every read and every look of a follow.
  // A file made just after is seen by the next look, as one made just after the open would be.
  if (!existsSync(path)) return undefined;
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    const info = await handle.stat({ bigint: true });
    return { handle, id: `${info.dev}:${info.ino}:${info.birthtimeNs}`, size: Number(info.size) };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Size of `path` in bytes; 0 when it does not exist. */
export async function sizeIfExists(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if (isMissing(error)) return 0;
    throw error;
  }
}

/** Reads up to `length` bytes at `position` (into the start of `buffer`, by default a new one); shorter only at the end of the file. */
export async function readAt(handle: FileHandle, position: number, length: number, buffer: Buffer = Buffer.allocUnsafe(length)): Promise<Buffer> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === buffer.length ? buffer : buffer.subarray(0, filled);
}

/**
 * The end of the last complete line in `[start, end)` of the file: just after its last `\n`, or `start` when
 * there is none. A line still being written (no `\n` yet) is left for later.
 */
export async function completeEnd(handle: FileHandle, start: number, end: number): Promise<number> {
  let position = end;
  while (position > start) {
    const from = Math.max(start, position - CHUNK_BYTES);
    const chunk = await readAt(handle, from, position - from);
    const index = chunk.lastIndexOf(NEWLINE);
    if (index >= 0) return from + index + 1;
    position = from;
  }
  return start;
}

/** The end of the first line in `[start, end)` (just after its `\n`), or `end` when there is no `\n` in it. */
export async function firstLineEnd(handle: FileHandle, start: number, end: number): Promise<number> {
  for (let position = start; position < end; ) {
    const chunk = await readAt(handle, position, Math.min(CHUNK_BYTES, end - position));
    if (chunk.length === 0) break;
    const index = chunk.indexOf(NEWLINE);
    if (index >= 0) return position + index + 1;
    position += chunk.length;
  }
  return end;
}

/** Closes every handle, ignoring errors (the handles were only read). */
export async function closeAll(handles: Iterable<FileHandle>): Promise<void> {
  await Promise.all([...handles].map((handle) => handle.close().catch(() => undefined)));
}
