import { COLON, MAX_TIME_LENGTH, NEWLINE, parseTimestamp, SPACE, TAG_FULL, TAG_PARTIAL } from "./parse.js";
import { newColumns, track, type Lease } from "./pool.js";
import type { NormalizedQuery } from "./output.js";

const DOT = 0x2e;
const DIGIT_0 = 0x30;
/** `YYYY-MM-DDTHH:MM:SS`: the part of an RFC 3339 time before its fraction. */
const SECOND_LENGTH = 19;
const NS_PER_S = 1_000_000_000n;
const FLAG_PARTIAL = 1;
const FLAG_STDERR = 2;

/** A time as whole seconds since the epoch and nanoseconds in that second: compared without a bigint. */
export interface SplitTime {
  sec: number;
  nano: number;
}

/** Splits nanoseconds since the epoch into {@link SplitTime} (the nanoseconds always in [0, 1e9)). */
export function splitNs(ns: bigint): SplitTime {
  let sec = ns / NS_PER_S;
  let nano = ns % NS_PER_S;
  if (nano < 0n) {
    nano += NS_PER_S;
    sec -= 1n;
  }
  return { sec: Number(sec), nano: Number(nano) };
}

/**
 * The records of one buffer of complete CRI log lines, parsed into columns: no object, string or bigint per
 * record, so a follow of a fast writer costs a few array writes per line. Holds only the records the query
 * wants (stream and since); the newest and last time of all records parsed are kept apart.
 *
 * Parsing is exactly {@link parseLogLine}'s: malformed lines are skipped. The output of a range of records is
 * made in place ({@link RecordBatch.compact}), which overwrites the record lines it has consumed.
 */
export class RecordBatch {
  count = 0;
  /** The time of the last record parsed, wanted or not (records of one file are in time order). */
  lastSec = Number.NaN;
  lastNano = 0;
  /** The newest time of all records parsed, wanted or not. */
  newestSec = Number.NaN;
  newestNano = 0;
  private capacity: number;
  private lineStart: Int32Array;
  private timeEnd: Int32Array;
  private textStart: Int32Array;
  private textEnd: Int32Array;
  private flags: Uint8Array;
  private sec: Float64Array;
  private nano: Int32Array;

  private constructor(
    readonly buffer: Buffer,
    private readonly lease: Lease | undefined,
  ) {
    const columns = lease?.columns ?? newColumns(Math.max(16, buffer.length >> 6));
    this.capacity = columns.lineStart.length;
    ({ lineStart: this.lineStart, timeEnd: this.timeEnd, textStart: this.textStart, textEnd: this.textEnd } = columns);
    ({ flags: this.flags, sec: this.sec, nano: this.nano } = columns);
    if (lease) track(this, lease);
  }

  /**
   * Parses `buffer`, which holds only complete lines (each ending in `\n`). With a lease, `buffer` lies in the
   * lease's buffer, whose columns the batch then uses, and the batch and its output count as its holders.
   */
  static parse(buffer: Buffer, query: Pick<NormalizedQuery, "stream" | "sinceNs">, lease?: Lease): RecordBatch {
    const batch = new RecordBatch(buffer, lease);
    batch.fill(query);
    return batch;
  }

  /** True when there was no record at all in the buffer (wanted or not). */
  get empty(): boolean {
    return Number.isNaN(this.lastSec);
  }

  /** The time of record `index` in nanoseconds since the epoch. */
  timeNs(index: number): bigint {
    return BigInt(this.sec[index]!) * NS_PER_S + BigInt(this.nano[index]!);
  }

  /** The time of the last record parsed (wanted or not); undefined when the buffer held none. */
  lastNs(): bigint | undefined {
    return this.empty ? undefined : BigInt(this.lastSec) * NS_PER_S + BigInt(this.lastNano);
  }

  /** The newest time of all records parsed; undefined when the buffer held none. */
  newestNs(): bigint | undefined {
    return this.empty ? undefined : BigInt(this.newestSec) * NS_PER_S + BigInt(this.newestNano);
  }

  /** Compares the time of record `index` with record `otherIndex` of `other`: negative, 0 or positive. */
  compare(index: number, other: RecordBatch, otherIndex: number): number {
    return this.sec[index]! - other.sec[otherIndex]! || this.nano[index]! - other.nano[otherIndex]!;
  }

  /** Compares the time of record `index` with `time`. */
  compareTo(index: number, time: SplitTime): number {
    return this.sec[index]! - time.sec || this.nano[index]! - time.nano;
  }

  /** True for a `P` record (its text does not end a line). */
  partial(index: number): boolean {
    return (this.flags[index]! & FLAG_PARTIAL) !== 0;
  }

  /** The length of record `index`'s text. */
  textLength(index: number): number {
    return this.textEnd[index]! - this.textStart[index]!;
  }

  /**
   * The output of records `[from, to)`: each text, `\n` after an `F` record, and with `timestamps` the time and
   * a space before the first record of each line (`atLineStart` tells whether record `from` starts one). At most
   * `room` bytes. Written in place over the lines of those records, which are consumed; later records are not
   * touched, and neither is output returned before.
   */
  compact(from: number, to: number, timestamps: boolean, atLineStart: boolean, room: number): Buffer {
    const buffer = this.buffer;
    const start = from < to ? this.lineStart[from]! : 0;
    let written = start;
    let left = room;
    for (let index = from; index < to && left > 0; index++) {
      if (timestamps && atLineStart) {
        const begin = this.lineStart[index]!;
        const length = Math.min(left, this.timeEnd[index]! + 1 - begin);
        buffer.copyWithin(written, begin, begin + length);
        written += length;
        left -= length;
      }
      const partial = (this.flags[index]! & FLAG_PARTIAL) !== 0;
      const textStart = this.textStart[index]!;
      // An F record's text is followed by the `\n` of its line, which is also the output's.
      const length = Math.min(left, this.textEnd[index]! - textStart + (partial ? 0 : 1));
      buffer.copyWithin(written, textStart, textStart + length);
      written += length;
      left -= length;
      atLineStart = !partial;
    }
    const output = buffer.subarray(start, written);
    if (this.lease) track(output, this.lease);
    return output;
  }

  private fill(query: Pick<NormalizedQuery, "stream" | "sinceNs">): void {
    const buffer = this.buffer;
    const since = query.sinceNs === undefined ? undefined : splitNs(query.sinceNs);
    const only = query.stream === "all" ? -1 : query.stream === "stderr" ? FLAG_STDERR : 0;
    // The time layout of the last line parsed the slow way: later lines in the same second reuse its second.
    const time: TimeCache = { view: new DataView(buffer.buffer, buffer.byteOffset, buffer.length), start: -1, length: 0, fraction: 0, sec: 0 };
    const parsed: SplitTime = { sec: 0, nano: 0 };
    for (let lineStart = 0; lineStart < buffer.length; ) {
      const end = buffer.indexOf(NEWLINE, lineStart);
      if (end < 0) break; // not a complete line: left for a later read
      const next = end + 1;
      // A time in the layout and second of the one before is read in place, and its end is known.
      let timeEnd = lineStart + time.length;
      const timed = time.start >= 0 && timeEnd < end && buffer[timeEnd] === SPACE && sameLayoutTime(buffer, lineStart, timeEnd, time, parsed);
      if (!timed) timeEnd = buffer.indexOf(SPACE, lineStart);
      if (timeEnd <= lineStart || timeEnd - lineStart > MAX_TIME_LENGTH || timeEnd >= end) {
        lineStart = next;
        continue;
      }
      const stream = streamFlag(buffer, timeEnd + 1);
      const streamEnd = timeEnd + 7;
      if (stream < 0 || streamEnd >= end || buffer[streamEnd] !== SPACE) {
        lineStart = next;
        continue;
      }
      const tagStart = streamEnd + 1;
      const tag = buffer[tagStart];
      if (tag !== TAG_PARTIAL && tag !== TAG_FULL) {
        lineStart = next;
        continue;
      }
      let tagEnd = tagStart + 1;
      if (tagEnd < end && buffer[tagEnd] !== SPACE) {
        if (buffer[tagEnd] !== COLON) {
          lineStart = next;
          continue;
        }
        tagEnd = buffer.indexOf(SPACE, tagEnd);
        if (tagEnd < 0 || tagEnd > end) tagEnd = end;
      }
      if (!timed && !slowTime(buffer, lineStart, timeEnd, time, parsed)) {
        lineStart = next;
        continue;
      }
      this.lastSec = parsed.sec;
      this.lastNano = parsed.nano;
      if (!(parsed.sec < this.newestSec || (parsed.sec === this.newestSec && parsed.nano <= this.newestNano))) {
        this.newestSec = parsed.sec;
        this.newestNano = parsed.nano;
      }
      const wanted =
        (only < 0 || only === stream) &&
        (since === undefined || parsed.sec > since.sec || (parsed.sec === since.sec && parsed.nano >= since.nano));
      if (wanted) {
        if (this.count === this.capacity) this.grow();
        const index = this.count++;
        this.lineStart[index] = lineStart;
        this.timeEnd[index] = timeEnd;
        this.textStart[index] = tagEnd < end ? tagEnd + 1 : end;
        this.textEnd[index] = end;
        this.flags[index] = (tag === TAG_PARTIAL ? FLAG_PARTIAL : 0) | stream;
        this.sec[index] = parsed.sec;
        this.nano[index] = parsed.nano;
      }
      lineStart = next;
    }
  }

  /** Moves the records to columns twice the size (never into a lease's: those keep their size). */
  private grow(): void {
    const bigger = newColumns(this.capacity * 2);
    bigger.lineStart.set(this.lineStart);
    bigger.timeEnd.set(this.timeEnd);
    bigger.textStart.set(this.textStart);
    bigger.textEnd.set(this.textEnd);
    bigger.flags.set(this.flags);
    bigger.sec.set(this.sec);
    bigger.nano.set(this.nano);
    this.capacity *= 2;
    ({ lineStart: this.lineStart, timeEnd: this.timeEnd, textStart: this.textStart, textEnd: this.textEnd } = bigger);
    ({ flags: this.flags, sec: this.sec, nano: this.nano } = bigger);
  }
}

/** 0 for `stdout`, {@link FLAG_STDERR} for `stderr` at `at`, -1 for anything else. */
function streamFlag(buffer: Buffer, at: number): number {
  if (buffer[at] !== 0x73 || buffer[at + 1] !== 0x74 || buffer[at + 2] !== 0x64) return -1; // "std"
  const a = buffer[at + 3];
  const b = buffer[at + 4];
  const c = buffer[at + 5];
  if (a === 0x6f && b === 0x75 && c === 0x74) return 0; // "out"
  if (a === 0x65 && b === 0x72 && c === 0x72) return FLAG_STDERR; // "err"
  return -1;
}

/** Where the last time parsed in full lies in the buffer, and its layout. */
interface TimeCache {
  /** The batch's buffer, for reading several bytes at once. */
  view: DataView;
  start: number;
  length: number;
  /** Digits of its fraction (0: none). */
  fraction: number;
  sec: number;
}

/**
 * Reads the time `[start, end)` into `out` when it has the cached time's layout and second (the common case:
 * consecutive records), at the cost of a byte compare and the fraction's digits; else false, and the caller
 * parses it in full ({@link slowTime}).
 */
function sameLayoutTime(buffer: Buffer, start: number, end: number, cache: TimeCache, out: SplitTime): boolean {
  if (cache.start < 0 || end - start !== cache.length || !sameSecond(buffer, start, end, cache)) return false;
  let nano = 0;
  const digits = start + SECOND_LENGTH + 1;
  for (let at = digits; at < digits + cache.fraction; at++) {
    const digit = buffer[at]! - DIGIT_0;
    if (digit < 0 || digit > 9) return false;
    nano = nano * 10 + digit;
  }
  for (let pad = cache.fraction; pad < 9; pad++) nano *= 10;
  out.sec = cache.sec;
  out.nano = nano;
  return true;
}

/** True when the second and the part after the fraction equal the cached time's (the fraction may differ). */
function sameSecond(buffer: Buffer, start: number, end: number, cache: TimeCache): boolean {
  // The second compared four bytes at a time: the check every line of a fast writer pays.
  const view = cache.view;
  const other = cache.start;
  if (
    view.getUint32(start) !== view.getUint32(other) ||
    view.getUint32(start + 4) !== view.getUint32(other + 4) ||
    view.getUint32(start + 8) !== view.getUint32(other + 8) ||
    view.getUint32(start + 12) !== view.getUint32(other + 12) ||
    view.getUint16(start + 16) !== view.getUint16(other + 16) ||
    buffer[start + 18] !== buffer[other + 18]
  ) {
    return false;
  }
  if (cache.fraction > 0 && buffer[start + SECOND_LENGTH] !== DOT) return false;
  const suffix = SECOND_LENGTH + (cache.fraction > 0 ? cache.fraction + 1 : 0);
  for (let offset = suffix; offset < end - start; offset++) {
    if (buffer[start + offset] !== buffer[other + offset]) return false;
  }
  return true;
}

function slowTime(buffer: Buffer, start: number, end: number, cache: TimeCache, out: SplitTime): boolean {
  const ns = parseTimestamp(buffer.toString("latin1", start, end));
  if (ns === undefined) return false;
  const split = splitNs(ns);
  out.sec = split.sec;
  out.nano = split.nano;
  cache.start = start;
  cache.length = end - start;
  let fraction = 0;
  if (buffer[start + SECOND_LENGTH] === DOT) {
    while (start + SECOND_LENGTH + 1 + fraction < end) {
      const digit = buffer[start + SECOND_LENGTH + 1 + fraction]! - DIGIT_0;
      if (digit < 0 || digit > 9) break;
      fraction++;
    }
  }
  cache.fraction = fraction;
  // The second with the offset applied; a later time in the same second adds its own fraction to it.
  cache.sec = split.sec;
  return true;
}
