import { dateToNs } from "./parse.js";
import type { Slice } from "./slices.js";
import type { LogFile, LogQuery, LogRecord, LogStream } from "./types.js";

const NEWLINE = Buffer.from("\n");
const SPACE = Buffer.from(" ");
const BLOCK_BYTES = 64 * 1024;

/** A {@link LogQuery} checked and brought into the form the readers use. */
export interface NormalizedQuery {
  stream: LogStream | "all";
  tailLines: number | undefined;
  limitBytes: number | undefined;
  sinceNs: bigint | undefined;
  timestamps: boolean;
}

/** Checks a query. Throws a RangeError for a non-integer `tailLines`, a negative or non-integer `limitBytes` or an invalid `since`. */
export function normalizeQuery(query: LogQuery): NormalizedQuery {
  const { stream, tailLines, limitBytes, since } = query;
  if (stream !== "stdout" && stream !== "stderr" && stream !== "all") throw new RangeError(`unknown stream ${String(stream)}`);
  if (tailLines !== undefined && !Number.isSafeInteger(tailLines)) throw new RangeError("tailLines must be an integer");
  if (limitBytes !== undefined && !(Number.isSafeInteger(limitBytes) && limitBytes >= 0)) {
    throw new RangeError("limitBytes must be a non-negative integer");
  }
  if (since !== undefined && Number.isNaN(since.getTime())) throw new RangeError("since must be a valid date");
  return {
    stream,
    tailLines: tailLines !== undefined && tailLines >= 0 ? tailLines : undefined,
    limitBytes,
    sinceNs: since === undefined ? undefined : dateToNs(since),
    timestamps: query.timestamps === true,
  };
}

/** The files that can hold records of the stream asked for. */
export function filesFor(files: readonly LogFile[], stream: LogStream | "all"): LogFile[] {
  return files.filter((file) => stream === "all" || file.stream === "combined" || file.stream === stream);
}

/** True when the record passes the stream and since filters of the query. */
export function wanted(query: NormalizedQuery, record: LogRecord): boolean {
  if (query.stream !== "all" && record.stream !== query.stream) return false;
  return query.sinceNs === undefined || record.timeNs >= query.sinceNs;
}

/**
 * Turns records (in output order) back into the raw output: each record's text, plus `\n` after an `F`
 * record. With timestamps, each line (the records up to and including an `F` record) starts with the time of
 * its first record and a space. Stops taking bytes at `limitBytes`. Keeps its state between batches, so a
 * follow can feed it piece by piece.
 */
export class OutputBuilder {
  /** Filled blocks, and the block being filled: copying small texts into blocks keeps the final concat cheap. */
  private blocks: Buffer[] = [];
  private block = Buffer.allocUnsafe(0);
  private used = 0;
  private written = 0;
  private atLineStart = true;

  constructor(private readonly query: NormalizedQuery) {}

  /** True once `limitBytes` bytes have been taken; nothing more will be. */
  get full(): boolean {
    return this.query.limitBytes !== undefined && this.written >= this.query.limitBytes;
  }

  /** Adds one record; returns false once the output is full. */
  push(record: LogRecord): boolean {
    if (this.query.timestamps && this.atLineStart) {
      this.add(Buffer.from(record.time, "latin1"));
      this.add(SPACE);
    }
    this.add(record.text);
    if (!record.partial) this.add(NEWLINE);
    this.atLineStart = !record.partial;
    return !this.full;
  }

  /** Adds the records of a slice (made in place over their lines, see {@link RecordBatch.compact}); returns false once the output is full. */
  pushSlice(slice: Slice): boolean {
    const room = this.query.limitBytes === undefined ? Infinity : this.query.limitBytes - this.written;
    if (room <= 0 || slice.from >= slice.to) return !this.full;
    this.add(slice.batch.compact(slice.from, slice.to, this.query.timestamps, this.atLineStart, room));
    this.atLineStart = !slice.batch.partial(slice.to - 1);
    return !this.full;
  }

  /** The bytes added since the last take. */
  take(): Buffer {
    const pieces = this.takePieces();
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }

  /** The bytes added since the last take, in the pieces they were gathered in (no copy into one buffer). */
  takePieces(): Buffer[] {
    if (this.used > 0) this.blocks.push(this.block.subarray(0, this.used));
    const out = this.blocks;
    this.blocks = [];
    this.block = Buffer.allocUnsafe(0);
    this.used = 0;
    return out;
  }

  private add(bytes: Buffer): void {
    const room = this.query.limitBytes === undefined ? bytes.length : this.query.limitBytes - this.written;
    if (room <= 0 || bytes.length === 0) return;
    const piece = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.written += piece.length;
    if (piece.length >= BLOCK_BYTES / 4) {
      // Big pieces are kept as they are rather than copied.
      if (this.used > 0) this.blocks.push(this.block.subarray(0, this.used));
      this.blocks.push(piece);
      this.block = this.block.subarray(this.used);
      this.used = 0;
      return;
    }
    if (this.block.length - this.used < piece.length) {
      if (this.used > 0) this.blocks.push(this.block.subarray(0, this.used));
      this.block = Buffer.allocUnsafe(BLOCK_BYTES);
      this.used = 0;
    }
    this.used += piece.copy(this.block, this.used);
  }
}
