/**
 * One log file of a task and the file it is rotated into. Structurally the same as `LogFile` of
 * @org/task-core's runtime contract, so a runtime's `logFiles()` result can be passed as is.
 */
export interface LogFile {
  path: string;
  /** Where `path` is renamed to when it reaches its cap; read before `path`. */
  rotatedPath: string;
  /** Which stream the file holds; `combined` files carry the stream on each line. */
  stream: "stdout" | "stderr" | "combined";
}

/** An output stream of a task. */
export type LogStream = "stdout" | "stderr";

/** One CRI log record: `<time> <stream> <P|F> <text>`. */
export interface LogRecord {
  /** The time exactly as written (RFC 3339, any precision, `Z` or a numeric offset). */
  time: string;
  /** The time in nanoseconds since the Unix epoch; the key records are ordered by. */
  timeNs: bigint;
  stream: LogStream;
  /** True for a `P` record (the text does not end a line), false for `F` (a `\n` follows the text). */
  partial: boolean;
  /** The raw bytes of the record, without the `\n` of an `F` record. */
  text: Buffer;
}

/** What to read, with the meaning of `kubectl logs`. */
export interface LogQuery {
  /** One stream, or both merged by time (see {@link readLogs}). */
  stream: LogStream | "all";
  /** Only the last this many lines (after stream and since filtering); negative = all lines. */
  tailLines?: number;
  /** At most this many bytes: the first `limitBytes` bytes of what would be returned otherwise. */
  limitBytes?: number;
  /** Leaves out records older than this time. */
  since?: Date;
  /** Prefixes each output line with the time of its first record and a space. */
  timestamps?: boolean;
}

/** How {@link followLogs} learns that it may stop. */
export interface FollowControl {
  /** True once the task has ended and writes no more output; asked before each look at the files. */
  isFinished: () => boolean | Promise<boolean>;
  /** Ends the follow early (the iteration then ends without an error). */
  signal?: AbortSignal;
  /** How often the files are looked at when no file change is reported (default 200 ms). */
  pollMs?: number;
  /**
   * Reads into pooled buffers and yields views into them (a follow of a fast writer then costs the garbage
   * collector far less). A pooled buffer is reused once every yielded chunk of it has been collected, so a
   * caller must keep the chunk itself, not only a view made from it (`subarray`), for as long as it uses the
   * bytes; writing the chunks to a stream does. Default false.
   */
  reuseBuffers?: boolean;
}
