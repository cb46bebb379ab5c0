import type { FileHandle } from "node:fs/promises";
import { completeEnd, firstLineEnd, openIfExists, type ByteRange, type OpenedFile } from "./files.js";
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
  /** True when the ranges stop short of the complete lines on disk (a look of bounded size): read again at once. */
  more?: boolean;
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
export async function continueSource(file: LogFile, position: ReadPosition, maxBytes = Infinity): Promise<SourceRead> {
  const read = await unboundedSource(file, position);
  try {
    return await bounded(read, position, maxBytes);
  } catch (error) {
    await Promise.all(read.handles.map((handle) => handle.close().catch(() => undefined)));
    throw error;
  }
}

/**
 * `read` cut to at most `maxBytes` at a line end, so that a look at a fast writer's files holds a bounded piece
 * in memory; the position then points into the file the cut falls in (a rotated file keeps its identity, so the
 * next look finds it under the rotated path and reads its rest first). A first line longer than `maxBytes` is
 * read (alone), so every look makes progress.
 */
async function bounded(read: UnboundedRead, position: ReadPosition, maxBytes: number): Promise<SourceRead> {
  const whole: SourceRead = { ranges: read.ranges, handles: read.handles, next: read.next };
  let budget = maxBytes;
  for (const [index, range] of read.ranges.entries()) {
    const size = range.end - range.start;
    if (size <= budget) {
      budget -= size;
      continue;
    }
    let end = budget > 0 ? await completeEnd(range.handle, range.start, range.start + budget) : range.start;
    // Nothing read yet and no line end within the budget: that first line alone.
    if (end === range.start && budget === maxBytes) end = await firstLineEnd(range.handle, range.start, range.end);
    if (end === range.end) {
      budget = 0;
      continue;
    }
    const last = index === read.ranges.length - 1;
    const next: ReadPosition = { currentId: read.ids[index], offset: end, rotatedId: last ? read.next.rotatedId : position.rotatedId };
    return { ranges: [...read.ranges.slice(0, index), { ...range, end }], handles: read.handles, next, more: true };
  }
  return whole;
}

interface UnboundedRead extends SourceRead {
  /** The identity of the file each range is of. */
  ids: Array<string | undefined>;
}

/** The ranges of {@link continueSource} before any cut, with the identity of the file each range is of. */
async function unboundedSource(file: LogFile, position: ReadPosition): Promise<UnboundedRead> {
  const handles: FileHandle[] = [];
  try {
    const current = await openIfExists(file.path);
    if (current) handles.push(current.handle);
    if (current && current.id === position.currentId) {
      const start = current.size < position.offset ? 0 : position.offset;
      const range = await rangeOf(current, start);
      return { ranges: [range], ids: [current.id], handles, next: { ...position, offset: range.end } };
    }
    const ranges: ByteRange[] = [];
    const ids: Array<string | undefined> = [];
    const rotated = await openIfExists(file.rotatedPath);
    if (rotated) {
      handles.push(rotated.handle);
      if (rotated.id === position.currentId) {
        ranges.push(await rangeOf(rotated, Math.min(position.offset, rotated.size)));
        ids.push(rotated.id);
      } else if (rotated.id !== position.rotatedId && rotated.id !== current?.id) {
        ranges.push(await rangeOf(rotated, 0));
        ids.push(rotated.id);
      }
    }
    const rotatedId = rotated?.id !== current?.id ? rotated?.id : undefined;
    if (!current) {
      return { ranges, ids, handles, next: { currentId: undefined, offset: 0, rotatedId: rotatedId ?? position.rotatedId } };
    }
    const range = await rangeOf(current, 0);
    ranges.push(range);
    ids.push(current.id);
    return { ranges, ids, handles, next: { currentId: current.id, offset: range.end, rotatedId } };
  } catch (error) {
    await Promise.all(handles.map((handle) => handle.close().catch(() => undefined)));
    throw error;
  }
}
