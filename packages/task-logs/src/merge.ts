import type { LogRecord } from "./types.js";

/** Record batches of one source (one log file with its rotated file), in the direction being read. */
export type RecordBatches = AsyncIterator<LogRecord[]> | Iterator<LogRecord[]>;

interface Cursor {
  batches: RecordBatches;
  batch: LogRecord[];
  index: number;
  done: boolean;
}

async function fill(cursor: Cursor): Promise<void> {
  while (!cursor.done && cursor.index >= cursor.batch.length) {
    const next = await cursor.batches.next();
    if (next.done) cursor.done = true;
    else {
      cursor.batch = next.value;
      cursor.index = 0;
    }
  }
}

/**
 * Merges the sources by time and hands each record to `visit` until it returns false.
 *
 * Forward: the earliest record first; on equal times the source listed first wins, and each source keeps
 * its own order (a stable merge). Backward: the exact reverse of that, provided each source is sorted by
 * time (then the backward merge of reversed sources visits the forward result from its end).
 */
export async function mergeRecords(
  sources: readonly RecordBatches[],
  direction: "forward" | "backward",
  visit: (record: LogRecord) => boolean,
): Promise<void> {
  const cursors: Cursor[] = sources.map((batches) => ({ batches, batch: [], index: 0, done: false }));
  const forward = direction === "forward";
  try {
    if (cursors.length === 1) {
      // One source: nothing to merge.
      const cursor = cursors[0]!;
      for (await fill(cursor); !cursor.done; cursor.index = cursor.batch.length, await fill(cursor)) {
        for (const record of cursor.batch) if (!visit(record)) return;
      }
      return;
    }
    await Promise.all(cursors.map(fill));
    for (;;) {
      let best: Cursor | undefined;
      let bestRecord: LogRecord | undefined;
      for (const cursor of cursors) {
        const record = cursor.batch[cursor.index];
        if (record === undefined) continue;
        const wins =
          bestRecord === undefined ||
          (forward ? record.timeNs < bestRecord.timeNs : record.timeNs >= bestRecord.timeNs);
        if (wins) {
          best = cursor;
          bestRecord = record;
        }
      }
      if (best === undefined || bestRecord === undefined) return;
      best.index++;
      if (!visit(bestRecord)) return;
      if (best.index >= best.batch.length) await fill(best);
    }
  } finally {
    await Promise.all(cursors.filter((cursor) => !cursor.done).map((cursor) => cursor.batches.return?.()));
  }
}
