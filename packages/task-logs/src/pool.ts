/**
 * Read buffers (and the record columns parsed from them) reused once nothing refers to them any more.
 *
 * A follow of a fast writer reads a megabyte at a time; allocated afresh, those buffers are memory outside the
 * JavaScript heap, and V8 answers each 64 MiB of it with a full collection (about a hundred per gigabyte
 * followed). A buffer's output is made in place and yielded as views into it, which a caller may keep as long
 * as it likes, so a buffer is reused only once every object it was handed out in (the batch parsed from it and
 * each piece of output) has been collected: a FinalizationRegistry counts them down. When none is free yet a
 * new one is allocated, so the pool never holds a follow back.
 */

/** The size of the buffers pooled. */
export const LEASE_BYTES = 1 << 20;
/** Records a lease's columns hold: a megabyte of lines of 64 bytes on average (shorter lines grow them). */
export const LEASE_RECORDS = LEASE_BYTES >> 6;
/** Free leases kept at most: enough for a few follows at once. */
const MAX_FREE = 32;

/** The typed arrays a {@link RecordBatch} keeps its records in. */
export interface Columns {
  lineStart: Int32Array;
  timeEnd: Int32Array;
  textStart: Int32Array;
  textEnd: Int32Array;
  flags: Uint8Array;
  sec: Float64Array;
  nano: Int32Array;
}

export function newColumns(capacity: number): Columns {
  return {
    lineStart: new Int32Array(capacity),
    timeEnd: new Int32Array(capacity),
    textStart: new Int32Array(capacity),
    textEnd: new Int32Array(capacity),
    flags: new Uint8Array(capacity),
    sec: new Float64Array(capacity),
    nano: new Int32Array(capacity),
  };
}

/** A pooled buffer with its columns, and how many live objects still refer to it. */
export interface Lease {
  readonly buffer: Buffer;
  readonly columns: Columns;
  refs: number;
}

const free: Lease[] = [];
/** How many leases were handed out again after their holders were collected (for tests). */
export const poolStats = { reused: 0 };

const registry = new FinalizationRegistry<Lease>((lease) => {
  if (--lease.refs === 0 && free.length < MAX_FREE) free.push(lease);
});

/** A free lease, or a new one. Until {@link track} is called with it, nothing refers to it but the caller. */
export function takeLease(): Lease {
  const reused = free.pop();
  if (reused) {
    poolStats.reused++;
    return reused;
  }
  return { buffer: Buffer.allocUnsafe(LEASE_BYTES), columns: newColumns(LEASE_RECORDS), refs: 0 };
}

/** Counts `holder` as referring to the lease: the lease is free again only once every holder is collected. */
export function track(holder: object, lease: Lease): void {
  lease.refs++;
  registry.register(holder, lease);
}
