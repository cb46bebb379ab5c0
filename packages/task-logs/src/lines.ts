import { RecordBatch } from "./batch.js";
import { CHUNK_BYTES, readAt, type ByteRange } from "./files.js";
import type { NormalizedQuery } from "./output.js";
import { LEASE_BYTES, takeLease, type Lease } from "./pool.js";
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

/**
 * Reads the ranges, first to last, as {@link RecordBatch}es of whole lines (one per piece read, a piece grown
 * until it holds a line end): the record-free counterpart of {@link readForward}, for a follow of a fast writer.
 * The next piece is read while the current one is parsed. With `pooled`, pieces are read into pooled buffers
 * (see {@link takeLease}).
 */
export async function* readBatches(
  ranges: readonly ByteRange[],
  query: Pick<NormalizedQuery, "stream" | "sinceNs">,
  pooled = false,
): AsyncGenerator<RecordBatch> {
  for (const range of ranges) {
    let ahead: Promise<Piece | undefined> | undefined;
    try {
      ahead = wholeLines(range, range.start, pooled);
      for (let position = range.start; ; ) {
        const piece = await ahead;
        ahead = undefined;
        if (piece === undefined) break;
        position += piece.lines.length;
        if (position < range.end) ahead = wholeLines(range, position, pooled);
        yield RecordBatch.parse(piece.lines, query, piece.lease);
        if (ahead === undefined) break;
      }
    } finally {
      // A follow that stops early leaves no read running on a handle it is about to close.
      await ahead?.catch(() => undefined);
    }
  }
}

/** Whole lines read, and the lease of the buffer they lie in (none when read into a buffer of their own). */
interface Piece {
  lines: Buffer;
  lease?: Lease;
}

/**
 * Pieces smaller than this are read into a buffer of their own size, not a pooled one: a lease is a megabyte and
 * its columns half as much again, free only once the garbage collector ran, so a lease per small read (a logs
 * request of a short task) made a megabyte and a half of new memory per request, and a full collection every
 * forty or so (a fifth of the executor's CPU in a loop of such requests).
 */
const MIN_POOLED_BYTES = LEASE_BYTES / 4;

/** The whole lines of a piece of the range from `position`; undefined at its end (or when the file shrank). */
async function wholeLines(range: ByteRange, position: number, pooled: boolean): Promise<Piece | undefined> {
  for (let size = LEASE_BYTES; position < range.end; size *= 2) {
    const length = Math.min(size, range.end - position);
    const lease = pooled && size === LEASE_BYTES && length >= MIN_POOLED_BYTES ? takeLease() : undefined;
    const chunk = await readAt(range.handle, position, length, lease?.buffer);
    const lineEnd = chunk.lastIndexOf(NEWLINE) + 1;
    if (lineEnd > 0) return { lines: lineEnd === chunk.length ? chunk : chunk.subarray(0, lineEnd), ...(lease ? { lease } : {}) };
    if (chunk.length < length || position + length >= range.end) return undefined; // the file shrank under us
    // No line end yet: a line longer than the piece, read again in a bigger one.
  }
  return undefined;
}
