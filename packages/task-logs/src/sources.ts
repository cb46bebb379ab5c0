import type { FileHandle } from "node:fs/promises";
import { completeEnd, openIfExists, type ByteRange, type OpenedFile } from "./files.js";
import type { LogFile } from "./types.js";

/**
 * How far a log file has been read: the identity of the file at `path` and the end of its last complete line
 * read, plus the identity of the rotated file already read in full.
 */
export interface ReadPosition {
  currentId: string | undefined;
  offset: number;
  rotatedId: string | undefined;
}

/** Byte ranges to read from one log file and its rotated file, in reading order, with the handles to close. */
export interface SourceRead {
  ranges: ByteRange[];
  handles: FileHandle[];
  /** Where the next look at the files starts once these ranges have been read. */
  next: ReadPosition;
}

async function rangeOf(file: OpenedFile, start: number): Promise<ByteRange> {
  return { handle: file.handle, start, end: await completeEnd(file.handle, start, file.size) };
}

/**
 * The whole content of a log file: the rotated file first (if it exists), then the current one, each up to its
 * last complete line. The current file is opened first: a rotation in between then at worst shows the same
 * file under both names (read once), never loses the file that was just renamed.
 */
export async function openSource(file: LogFile): Promise<SourceRead> {
  return continueSource(file, { currentId: undefined, offset: 0, rotatedId: undefined });
}

/**
 * What has been added to a log file since `position`.
 *
 * - The same file is still at `path`: the bytes after `offset` (from 0 again if it was truncated in place).
 * - Another file is at `path` (or none), so the file was rotated: the rest of the old file, now at
 *   `rotatedPath`, then the new file from its start. If the old file is gone too (rotated twice), the
 *   rotated file is new and read in full; the old file's unread rest was dropped by the writer.
 */
export async function continueSource(file: LogFile, position: ReadPosition): Promise<SourceRead> {
  const handles: FileHandle[] = [];
  try {
    const current = await openIfExists(file.path);
    if (current) handles.push(current.handle);
    if (current && current.id === position.currentId) {
      const start = current.size < position.offset ? 0 : position.offset;
      const range = await rangeOf(current, start);
      return { ranges: [range], handles, next: { ...position, offset: range.end } };
    }
    const ranges: ByteRange[] = [];
    const rotated = await openIfExists(file.rotatedPath);
    if (rotated) {
      handles.push(rotated.handle);
      if (rotated.id === position.currentId) {
        ranges.push(await rangeOf(rotated, Math.min(position.offset, rotated.size)));
      } else if (rotated.id !== position.rotatedId && rotated.id !== current?.id) {
        ranges.push(await rangeOf(rotated, 0));
      }
    }
    const rotatedId = rotated?.id !== current?.id ? rotated?.id : undefined;
    if (!current) {
      return { ranges, handles, next: { currentId: undefined, offset: 0, rotatedId: rotatedId ?? position.rotatedId } };
    }
    const range = await rangeOf(current, 0);
    ranges.push(range);
    return { ranges, handles, next: { currentId: current.id, offset: range.end, rotatedId } };
  } catch (error) {
    await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
    throw error;
  }
}
