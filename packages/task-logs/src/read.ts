import { closeAll, sizeIfExists } from "./files.js";
import { readBackward, readForward } from "./lines.js";
import { mergeRecords } from "./merge.js";
import { filesFor, normalizeQuery, OutputBuilder, wanted, type NormalizedQuery } from "./output.js";
import { openSource, type SourceRead } from "./sources.js";
import type { LogFile, LogQuery, LogRecord } from "./types.js";

/**
 * Reads a task's logs, with the meaning of `kubectl logs`, and returns the raw output bytes.
 *
 * - Each file is read rotated file first, then the current file; lines that are not valid CRI records are
 *   skipped, and so is a last line still being written (no `\n` yet).
 * - `stream: "all"` merges the records of all files by time; on equal times the file listed first comes
 *   first, and records of one file keep their order (so a `combined` file is read exactly in file order).
 * - `since` drops records older than the given time; `tailLines` then keeps the last lines (a line is the
 *   records up to and including an `F` record; a trailing partial line counts as one).
 * - `timestamps` prefixes each output line with the time of its first record; `limitBytes` finally keeps only
 *   the first bytes of the result.
 *
 * With `tailLines`, files are read backwards from their end and only as far as needed.
 */
export async function readLogs(files: readonly LogFile[], query: LogQuery): Promise<Buffer> {
  const normalized = normalizeQuery(query);
  const output = new OutputBuilder(normalized);
  await readInto(filesFor(files, normalized.stream), normalized, output);
  return output.take();
}

/** What {@link readInto} read: where each file's reading stopped, and the newest record time it met. */
export interface ReadResult {
  sources: SourceRead[];
  newestNs: bigint | undefined;
}

/**
 * Reads the files as {@link readLogs} does, feeding `output`, and returns where each file's reading stopped
 * (for a follow to go on from there).
 */
export async function readInto(
  files: readonly LogFile[],
  query: NormalizedQuery,
  output: OutputBuilder,
): Promise<ReadResult> {
  const sources: SourceRead[] = [];
  let newestNs: bigint | undefined;
  const seen = (record: LogRecord): boolean => {
    if (newestNs === undefined || record.timeNs > newestNs) newestNs = record.timeNs;
    return wanted(query, record);
  };
  try {
    for (const file of files) sources.push(await openSource(file));
    if (query.limitBytes === 0 || query.tailLines === 0) return { sources, newestNs };
    if (query.tailLines === undefined) {
      const batches = sources.map((source) => readForward(source.ranges));
      await mergeRecords(batches, "forward", (record) => !seen(record) || output.push(record));
      return { sources, newestNs };
    }
    const tail = await lastLines(sources, seen, query.tailLines);
    for (let index = tail.length - 1; index >= 0; index--) {
      if (!output.push(tail[index]!)) break;
    }
    return { sources, newestNs };
  } finally {
    await closeAll(sources.flatMap((source) => source.handles));
  }
}

/** The records of the last `count` lines, newest first, read backwards. */
async function lastLines(
  sources: readonly SourceRead[],
  wanted: (record: LogRecord) => boolean,
  count: number,
): Promise<LogRecord[]> {
  const records: LogRecord[] = [];
  let lines = 0;
  const batches = sources.map((source) => readBackward(source.ranges));
  await mergeRecords(batches, "backward", (record) => {
    if (!wanted(record)) return true;
    // Going backwards, an F record (or the very last record, a partial line) is the end of a new line.
    if (records.length === 0 || !record.partial) {
      if (lines === count) return false;
      lines++;
    }
    records.push(record);
    return true;
  });
  return records;
}

/**
 * Bytes the log files take on disk: the current and rotated file of each, counted once per path. Used for
 * disk budgets.
 */
export async function logSize(files: readonly LogFile[]): Promise<number> {
  const paths = new Set(files.flatMap((file) => [file.path, file.rotatedPath]));
  const sizes = await Promise.all([...paths].map(sizeIfExists));
  return sizes.reduce((total, size) => total + size, 0);
}
