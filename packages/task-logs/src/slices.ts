import { splitNs, type RecordBatch } from "./batch.js";

/** Records `[from, to)` of a batch, in time order: what a follow holds and yields, without an object per record. */
export interface Slice {
  batch: RecordBatch;
  from: number;
  to: number;
}

/** The slices of all records of the batches. */
export function wholeBatches(batches: readonly RecordBatch[]): Slice[] {
  return batches.filter((batch) => batch.count > 0).map((batch) => ({ batch, from: 0, to: batch.count }));
}

/** Appends a slice, joined to the last one when it continues it. */
function append(out: Slice[], batch: RecordBatch, from: number, to: number): void {
  const last = out[out.length - 1];
  if (last !== undefined && last.batch === batch && last.to === from) last.to = to;
  else out.push({ batch, from, to });
}

interface Cursor {
  list: readonly Slice[];
  slice: number;
  index: number;
}

/**
 * Merges lists of slices, each sorted by time, into one sorted list; on equal times the list given first comes
 * first, and each list keeps its own order (a stable merge). Runs of one list between records of the others stay
 * one slice, so merging a list with empty ones costs nothing per record.
 */
export function mergeSlices(lists: ReadonlyArray<readonly Slice[]>): Slice[] {
  const cursors: Cursor[] = lists.filter((list) => list.length > 0).map((list) => ({ list, slice: 0, index: list[0]!.from }));
  const out: Slice[] = [];
  if (cursors.length === 1) {
    for (const slice of cursors[0]!.list) append(out, slice.batch, slice.from, slice.to);
    return out;
  }
  // Does record `index` of `batch` (of cursor number `rank`) come before the head of cursor number `other`?
  const before = (batch: RecordBatch, index: number, rank: number, other: number): boolean => {
    const head = cursors[other]!;
    const order = batch.compare(index, head.list[head.slice]!.batch, head.index);
    return order < 0 || (order === 0 && rank < other);
  };
  while (cursors.length > 0) {
    let best = 0;
    for (let rank = 1; rank < cursors.length; rank++) {
      const cursor = cursors[rank]!;
      if (before(cursor.list[cursor.slice]!.batch, cursor.index, rank, best)) best = rank;
    }
    const cursor = cursors[best]!;
    const slice = cursor.list[cursor.slice]!;
    let end = cursor.index + 1;
    for (; end < slice.to; end++) {
      let first = true;
      for (let other = 0; other < cursors.length && first; other++) {
        if (other !== best) first = before(slice.batch, end, best, other);
      }
      if (!first) break;
    }
    append(out, slice.batch, cursor.index, end);
    if (end < slice.to) cursor.index = end;
    else if (cursor.slice + 1 < cursor.list.length) {
      cursor.slice++;
      cursor.index = cursor.list[cursor.slice]!.from;
    } else cursors.splice(best, 1);
  }
  return out;
}

/** Splits sorted slices into the records at or before `bound` and the rest. */
export function splitAtTime(slices: readonly Slice[], bound: bigint): [Slice[], Slice[]] {
  const time = splitNs(bound);
  for (const [position, slice] of slices.entries()) {
    if (slice.batch.compareTo(slice.to - 1, time) <= 0) continue;
    // The first record after the bound, by binary search within the slice.
    let low = slice.from;
    let high = slice.to - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (slice.batch.compareTo(middle, time) > 0) high = middle;
      else low = middle + 1;
    }
    const taken = slices.slice(0, position);
    const rest = slices.slice(position + 1);
    if (low > slice.from) taken.push({ batch: slice.batch, from: slice.from, to: low });
    rest.unshift({ batch: slice.batch, from: low, to: slice.to });
    return [taken, rest];
  }
  return [[...slices], []];
}

/** The bytes of text the slices hold. */
export function textBytes(slices: readonly Slice[]): number {
  let total = 0;
  for (const slice of slices) {
    for (let index = slice.from; index < slice.to; index++) total += slice.batch.textLength(index);
  }
  return total;
}
