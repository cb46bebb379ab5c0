import { closeAll } from "./files.js";
import { readBatches } from "./lines.js";
import { filesFor, normalizeQuery, OutputBuilder, type NormalizedQuery } from "./output.js";
import { readInto } from "./read.js";
import { mergeSlices, splitAtTime, textBytes, wholeBatches, type Slice } from "./slices.js";
import { continueSource, type ReadPosition } from "./sources.js";
import type { FollowControl, LogFile, LogQuery } from "./types.js";
import { Wakeup } from "./wakeup.js";

/** Default time between two looks at the files when no change is reported. */
export const DEFAULT_FOLLOW_POLL_MS = 200;

/** Time to the next look while records are held back (see {@link followLogs}). */
const HELD_POLL_MS = 20;

/** How often the first read is tried again when a record was written while it read (see {@link followLogs}). */
const FIRST_READ_ATTEMPTS = 3;

/** Most bytes one look reads from a file: a follow of a fast writer holds a bounded piece in memory at a time. */
export const LOOK_MAX_BYTES = 4 << 20;

/**
 * Follows a task's logs (`kubectl logs -f`): first yields what {@link readLogs} returns for the query, then
 * the output appended since, as it comes. Ends once the task is finished and everything it wrote has been
 * yielded, when `limitBytes` bytes have been yielded, or when the signal aborts (without an error).
 *
 * Each file is tracked by its identity and read position, so a rotation while following (the file renamed to
 * its rotated path and a new file started) loses and repeats nothing: the rest of the renamed file is read,
 * then the new file.
 *
 * With several files, output keeps the order of {@link readLogs} (by time). Files are read one after the
 * other, so a look may see a record of one file but miss an older one written meanwhile to a file it had
 * already read. As the writer stamps and writes records in time order, every record older than one seen in a
 * look is on disk when the next look starts; so records are held back until one more look has been made,
 * and only those no newer than everything seen before that look are yielded.
 *
 * A look reads at most {@link LOOK_MAX_BYTES} of each file (and, without `tailLines`, so does the first read),
 * then looks again at once: memory stays bounded however far behind the writer the follower is. A file cut
 * short holds only records newer than the last one read from it, so records are yielded only up to that one;
 * while more than {@link LOOK_MAX_BYTES} are held back that way, the files already read past that point wait
 * and only the ones behind are read.
 */
export async function* followLogs(
  files: readonly LogFile[],
  query: LogQuery,
  control: FollowControl,
): AsyncGenerator<Buffer, void, undefined> {
  const normalized = normalizeQuery(query);
  const selected = filesFor(files, normalized.stream);
  const pollMs = control.pollMs ?? DEFAULT_FOLLOW_POLL_MS;
  const pooled = control.reuseBuffers === true;
  const { signal } = control;
  const ordered = selected.length > 1;
  if (signal?.aborted) return;
  // Asked before each read: once true, the read that follows sees everything the task wrote.
  let finished = await control.isFinished();
  // Finished from the start, the follow reads to the end and never waits: nothing to watch.
  const wakeup = finished ? undefined : new Wakeup(selected.flatMap((file) => [file.path, file.rotatedPath]));
  try {
    let positions: ReadPosition[] = selected.map(() => ({ currentId: undefined, offset: 0, rotatedId: undefined }));
    let seenNs: bigint | undefined;
    let next: Look | undefined;
    let output = new OutputBuilder(normalized);
    if (normalized.tailLines !== undefined) {
      // The first read finds the last lines (reading backwards, so bounded by them); then the looks go on.
      for (let attempt = 1; ; attempt++) {
        next = undefined;
        output = new OutputBuilder(normalized);
        const first = await readInto(selected, normalized, output);
        positions = first.sources.map((source) => source.next);
        seenNs = first.newestNs;
        if (!ordered || finished || output.full) break;
        // A record older than one already read, found right away, was written while the files were read.
        next = await look(selected, positions, normalized, pooled);
        // The slices are in time order: the first record is the oldest.
        const oldest = next.slices[0];
        const late = oldest !== undefined && seenNs !== undefined && oldest.batch.timeNs(oldest.from) <= seenNs;
        if (!late || attempt >= FIRST_READ_ATTEMPTS) break;
      }
      const first = output.take();
      if (first.length > 0 && !signal?.aborted) yield first;
    }

    let held: Slice[] = [];
    let heldBytes = 0;
    // The time of the last record read from each file (undefined: none yet, or a cut look read none of it).
    const lastReadNs: Array<bigint | undefined> = selected.map(() => undefined);
    let cutNs: bigint | undefined;
    // True while the files hold more than the looks read so far: look again at once (also before the first look).
    let more = normalized.tailLines === undefined;
    while (!output.full) {
      if (signal?.aborted) return;
      if (next === undefined) {
        if (finished && !more && held.length === 0) return;
        if (!more) {
          await wakeup!.wait(held.length > 0 ? Math.min(pollMs, HELD_POLL_MS) : pollMs, signal);
          if (signal?.aborted) return;
          finished = await control.isFinished();
        }
        // Held back past a cut: the files read beyond the cut wait until the ones behind have caught up.
        const behind = more && cutNs !== undefined && heldBytes > LOOK_MAX_BYTES ? cutNs : undefined;
        const skip = lastReadNs.map((ns) => behind !== undefined && ns !== undefined && ns > behind);
        next = await look(selected, positions, normalized, pooled, skip, lastReadNs);
      }
      cutNs = next.cut ? next.cutNs : undefined;
      more = next.cut;
      positions = next.positions;
      held = mergeSlices([held, next.slices]);
      const threshold = seenNs;
      if (next.newestNs !== undefined && (seenNs === undefined || next.newestNs > seenNs)) seenNs = next.newestNs;
      // Without a cut and once finished, everything is on disk and read; else up to what is known complete.
      let bound: bigint | undefined | "all" = finished ? "all" : threshold;
      if (next.cut) bound = bound === "all" || (bound !== undefined && next.cutNs < bound) ? next.cutNs : bound;
      next = undefined;
      let ready: Slice[] = held;
      if (!ordered || bound === "all") held = [];
      else if (bound === undefined) ready = [];
      else [ready, held] = splitAtTime(held, bound);
      for (const slice of ready) if (!output.pushSlice(slice)) break;
      heldBytes = textBytes(held);
      // The pieces as gathered: copying a look's output into one buffer would cost as much as making it.
      for (const piece of output.takePieces()) {
        if (signal?.aborted) return;
        if (piece.length > 0) yield piece;
      }
      if (finished && !more && held.length === 0) return;
    }
  } finally {
    wakeup?.close();
  }
}

/**
 * What {@link readLogs} returns for the query, as a stream of chunks: the files are read in pieces of at most
 * {@link LOOK_MAX_BYTES} each, so memory stays bounded whatever the size of the log. The output is what the files
 * hold when each piece is read (of a running task: what it wrote so far), and the stream then ends.
 */
export function streamLogs(
  files: readonly LogFile[],
  query: LogQuery,
  options: Pick<FollowControl, "signal" | "reuseBuffers"> = {},
): AsyncGenerator<Buffer, void, undefined> {
  return followLogs(files, query, { ...options, isFinished: () => true });
}

/** The new records of one look at the files. */
interface Look {
  /** The records passing the query's filters, merged by time. */
  slices: Slice[];
  /** The newest time of all records read, filtered or not. */
  newestNs: bigint | undefined;
  positions: ReadPosition[];
  /** Some file was cut short ({@link LOOK_MAX_BYTES}): look again at once. */
  cut: boolean;
  /**
   * With a cut: the unread records of a cut file are newer than the last one read from it; this is the oldest of
   * those times (-1 when a cut file had no record read in this look, so nothing is known complete).
   */
  cutNs: bigint;
}

/**
 * Reads what was added to each file since its position, but for the files marked in `skip`: those count as cut
 * at their last record read (into pooled buffers with `pooled`). Updates `lastReadNs`, the time of the last record
 * read from each file.
 */
async function look(
  files: readonly LogFile[],
  positions: readonly ReadPosition[],
  query: NormalizedQuery,
  pooled: boolean,
  skip: readonly boolean[] = [],
  lastReadNs: Array<bigint | undefined> = [],
): Promise<Look> {
  const next: ReadPosition[] = [];
  const added: Slice[][] = [];
  let newestNs: bigint | undefined;
  let cut = false;
  let cutNs = -1n;
  const cutAt = (lastNs: bigint | undefined): void => {
    const at = lastNs ?? -1n;
    cutNs = cut && cutNs < at ? cutNs : at;
    cut = true;
  };
  for (const [index, file] of files.entries()) {
    if (skip[index]) {
      cutAt(lastReadNs[index]);
      added.push([]);
      next.push(positions[index]!);
      continue;
    }
    const source = await continueSource(file, positions[index]!, LOOK_MAX_BYTES);
    try {
      const batches = [];
      let lastNs: bigint | undefined;
      for await (const batch of readBatches(source.ranges, query, pooled)) {
        if (batch.empty) continue;
        const batchNewest = batch.newestNs()!;
        if (newestNs === undefined || batchNewest > newestNs) newestNs = batchNewest;
        lastNs = batch.lastNs();
        batches.push(batch);
      }
      if (lastNs !== undefined) lastReadNs[index] = lastNs;
      if (source.more) {
        cutAt(lastNs);
        // A cut that read nothing of the file tells nothing of it: it is read next time, never skipped.
        if (lastNs === undefined) lastReadNs[index] = undefined;
      }
      added.push(wholeBatches(batches));
      next.push(source.next);
    } finally {
      await closeAll(source.handles);
    }
  }
  return { slices: mergeSlices(added), newestNs, positions: next, cut, cutNs };
}
