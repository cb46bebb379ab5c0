import { CHUNK_BYTES, readAt, type ByteRange } from "./files.js";
import { parseLogLine } from "./parse.js";
import type { LogRecord } from "./types.js";

const NEWLINE = 0x0a;

function join(parts: Buffer[]): Buffer {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * Yields the records of the ranges, first to last, in batches (one per chunk read). Malformed lines are
 * skipped. A line split over chunks is joined once, when its end is found, so long lines cost no more than
 * short ones.
 */
export async function* readForward(ranges: readonly ByteRange[]): AsyncGenerator<LogRecord[]> {
  for (const range of ranges) {
    let position = range.start;
    let pending: Buffer[] = [];
    while (position < range.end) {
      const chunk = await readAt(range.handle, position, Math.min(CHUNK_BYTES, range.end - position));
      if (chunk.length === 0) break; // the file shrank under us
      position += chunk.length;
      const batch: LogRecord[] = [];
      let lineStart = 0;
      for (let index = chunk.indexOf(NEWLINE); index >= 0; index = chunk.indexOf(NEWLINE, index + 1)) {
        const piece = chunk.subarray(lineStart, index);
        const line = pending.length === 0 ? piece : join([...pending, piece]);
        pending = [];
        const record = parseLogLine(line);
        if (record) batch.push(record);
        lineStart = index + 1;
      }
      if (lineStart < chunk.length) pending.push(chunk.subarray(lineStart));
      if (batch.length > 0) yield batch;
    }
  }
}

/**
 * Yields the records of the ranges, last to first, in batches: the exact reverse of {@link readForward}.
 * Used for `tailLines`, so that the end of a big file is found without reading all of it.
 */
export async function* readBackward(ranges: readonly ByteRange[]): AsyncGenerator<LogRecord[]> {
  for (let r = ranges.length - 1; r >= 0; r--) {
    const range = ranges[r]!;
    let position = range.end;
    // The end of a line whose start lies in an earlier chunk, in file order.
    let pending: Buffer[] = [];
    const emit = (line: Buffer, batch: LogRecord[]): void => {
      const record = line.length > 0 ? parseLogLine(line) : undefined;
      if (record) batch.push(record);
    };
    while (position > range.start) {
      const from = Math.max(range.start, position - CHUNK_BYTES);
      const chunk = await readAt(range.handle, from, position - from);
      if (chunk.length < position - from) break; // the file shrank under us
      const batch: LogRecord[] = [];
      let segmentEnd = chunk.length;
      for (let index = chunk.lastIndexOf(NEWLINE); index >= 0; ) {
        // The bytes after this newline (plus `pending`) are one whole line.
        emit(join([chunk.subarray(index + 1, segmentEnd), ...pending]), batch);
        pending = [];
        segmentEnd = index;
        index = index > 0 ? chunk.lastIndexOf(NEWLINE, index - 1) : -1;
      }
      pending.unshift(chunk.subarray(0, segmentEnd));
      position = from;
      if (position === range.start) {
        emit(join(pending), batch);
        pending = [];
      }
      if (batch.length > 0) yield batch;
    }
  }
}
