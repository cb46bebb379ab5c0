import { close, closeSync, fdatasync, fsync, ftruncateSync, open, openSync, readdirSync, readFileSync, statfsSync, writevSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { syncDirectory, timedFlush, type SyncObserver } from "./atomic.js";

const openFd = promisify(open);
const fdatasyncFd = promisify(fdatasync);
const fsyncFd = promisify(fsync);
const closeFd = promisify(close);

/**
 * Room a commit leaves free on the data dir's file system. An append often fits in the slack of the journal's
 * last block even on a full disk; refusing below this keeps "the disk is full" one clear answer for every change,
 * and leaves room for the files of the tasks already accepted (logs, exit records).
 */
const MIN_FREE_BYTES = 64 * 1024;

/** Journal segments in the data dir: `.journal.<n>`, replayed in the order of n. */
const SEGMENT = /^\.journal\.(\d+)$/;
export const segmentName = (n: number) => `.journal.${n}`;

/** One line of the journal: a task's whole new record, or its removal. */
export type JournalEntry = { put: unknown } | { remove: string };

/** The segments present in a data dir, oldest first. */
export function listSegments(dataDir: string): number[] {
  return readdirSync(dataDir)
    .map((name) => SEGMENT.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The entries of a segment in order. A line without its newline, or that is not JSON, is a write a crash cut
 * short: it was never acknowledged, so it is left out (and reported when it is not the last).
 */
export function readSegment(path: string): { entries: JournalEntry[]; problems: string[] } {
  const lines = readFileSync(path, "utf8").split("\n");
  const torn = lines.pop() ?? "";
  const entries: JournalEntry[] = [];
  const problems: string[] = [];
  lines.forEach((line, index) => {
    try {
      const entry = JSON.parse(line) as JournalEntry;
      if (typeof entry === "object" && entry !== null && ("put" in entry || typeof (entry as { remove?: unknown }).remove === "string")) {
        entries.push(entry);
        return;
      }
    } catch {
      // reported below
    }
    if (line.replace(/\0/g, "") !== "") problems.push(`line ${index + 1} of ${path} is not a journal entry; left out`);
  });
  if (torn.replace(/\0/g, "") !== "") problems.push(`the last line of ${path} was cut short (a write a crash interrupted, never acknowledged); left out`);
  return { entries, problems };
}

/**
 * Told of each entry as soon as it is durable, in commit order, before its caller is; with the record's JSON as the
 * entry holds it when it is at most {@link KEEP_JSON_CHARS} long (else, and for a removal, undefined), so that a
 * snapshot need not serialise the record again.
 */
export type CommitObserver = (task: string, record: object | undefined, json: string | undefined) => void;

interface Waiter {
  task: string;
  record: object | undefined;
  json: string | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * The longest JSON kept in memory next to the object it was made from (a typical record is a few hundred
 * characters): the journal's entries and the store's records, the executor's wire form of a task and its events.
 * A larger one is not held: a spec with a megabyte of environment would be kept once more by each of them.
 */
const KEEP_JSON_CHARS = 4096;

/** A JSON when it is small enough to keep (see {@link KEEP_JSON_CHARS}), else undefined. */
export function keptJson(json: string | undefined): string | undefined {
  return json !== undefined && json.length <= KEEP_JSON_CHARS ? json : undefined;
}

/**
 * `{"put":<json>}\n` written straight into its buffer: joining the strings first would copy a large record's JSON
 * once more (a string made by concatenation is flattened into a new one before it is encoded).
 */
function putLine(json: string): Buffer {
  const size = Buffer.byteLength(json);
  const line = Buffer.allocUnsafe(size + PUT_PREFIX.length + 2);
  line.write(PUT_PREFIX, 0, "latin1");
  line.write(json, PUT_PREFIX.length, "utf8");
  line.write("}\n", PUT_PREFIX.length + size, "latin1");
  return line;
}

const PUT_PREFIX = '{"put":';

/**
 * An append-only segment with group commit: every entry appended while a commit is on the disk waits for the next
 * one, and one write plus one fdatasync (and one fsync of the data dir when a batch made or removed a task
 * directory) then covers them all. An entry's promise resolves only when it is durable.
 */
export class JournalSegment {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private waiters: Waiter[] = [];
  private syncDataDir = false;
  private committing: Promise<void> | undefined;
  /** Bytes known to be whole on the disk: a failed write is cut back to this, so no later entry follows a torn one. */
  private size = 0;
  private closed = false;

  private constructor(
    readonly number: number,
    readonly path: string,
    private readonly dataDir: string,
    private readonly onSync: SyncObserver | undefined,
    private readonly onCommitted: CommitObserver,
  ) {}

  /** Creates segment `n` (it must not exist) and makes its entry in the data dir durable. */
  static async create(dataDir: string, n: number, onCommitted: CommitObserver, onSync?: SyncObserver): Promise<JournalSegment> {
    const path = join(dataDir, segmentName(n));
    await closeFd(await openFd(path, "wx", 0o600));
    await syncDirectory(dataDir, onSync);
    return new JournalSegment(n, path, dataDir, onSync, onCommitted);
  }

  /** Bytes on the disk and waiting to be written (read after every append: kept, not summed). */
  get bytes(): number {
    return this.size + this.pendingBytes;
  }

  /**
   * Appends a task's new record (a snapshot nobody changes afterwards), or its removal (`undefined`); resolves once
   * it is durable.
   * `newDirectory`: the task's directory was just made, and the same commit makes its entry in the data dir durable.
   */
  append(task: string, record: object | undefined, newDirectory = false): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`journal segment ${this.path} is closed`));
    const json = record === undefined ? undefined : JSON.stringify(record);
    const line = json === undefined ? Buffer.from(`${JSON.stringify({ remove: task })}\n`) : putLine(json);
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (newDirectory) this.syncDataDir = true;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ task, record, json: keptJson(json), resolve, reject }));
    this.committing ??= this.commitAll();
    return done;
  }

  /** Resolves when everything appended so far is committed (or failed). */
  async settled(): Promise<void> {
    while (this.committing) await this.committing;
  }

  /** Takes no more entries, and resolves when the pending ones are committed (or failed). */
  async close(): Promise<void> {
    this.closed = true;
    await this.settled();
  }

  private async commitAll(): Promise<void> {
    // Entries appended in the same turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.pending.length > 0) {
      const batch = this.pending;
      const bytes = this.pendingBytes;
      const waiters = this.waiters;
      const syncDataDir = this.syncDataDir;
      this.pending = [];
      this.pendingBytes = 0;
      this.waiters = [];
      this.syncDataDir = false;
      try {
        await this.commit(batch, bytes, syncDataDir);
        this.size += bytes;
        for (const waiter of waiters) {
          this.onCommitted(waiter.task, waiter.record, waiter.json);
          waiter.resolve();
        }
      } catch (error) {
        for (const waiter of waiters) waiter.reject(error);
      }
    }
    this.committing = undefined;
  }

  private requireRoom(bytes: number): void {
    const { bavail, bsize } = statfsSync(this.dataDir);
    const free = bavail * bsize;
    if (free >= bytes + MIN_FREE_BYTES) return;
    throw Object.assign(new Error(`the data dir's file system is full (${free} bytes free)`), { code: "ENOSPC" });
  }

  /**
   * One batch: write, fdatasync. The file is open only for the commit, so that an idle executor holds nothing open
   * for writing in the data dir (a read-only remount of it is not refused as busy).
   *
   * Only the flushes go to the thread pool. The rest (statfs, open, a write of a few KiB into the page cache,
   * close) takes microseconds on the event loop, while each of them as its own trip through the thread pool
   * would add a wait behind the executor's other work to every commit, and so to every create's reply.
   */
  private async commit(batch: Buffer[], bytes: number, syncDataDir: boolean): Promise<void> {
    this.requireRoom(bytes);
    const fd = openSync(this.path, "r+");
    let dirFd: number | undefined;
    try {
      // Positioned writes: after a failed batch is cut back, the next one starts exactly at the cut.
      let written = writevSync(fd, batch, this.size);
      // A short write (rare: a signal, a nearly full disk) goes on with what is left.
      while (written < bytes) written += writevSync(fd, [Buffer.concat(batch).subarray(written)], this.size + written);
      if (syncDataDir) dirFd = openSync(this.dataDir, "r");
      // Both flushes are waited for, also when one fails: neither descriptor may close while its flush runs.
      const flushes = await Promise.allSettled([
        timedFlush(() => fdatasyncFd(fd), this.onSync),
        dirFd === undefined ? undefined : timedFlush(() => fsyncFd(dirFd!), this.onSync),
      ]);
      const failed = flushes.find((flush) => flush.status === "rejected");
      if (failed) throw failed.reason;
    } catch (error) {
      // A full disk or an I/O error: the batch is refused as a whole, and a partly written one is cut off so that
      // the next batch starts on a line of its own.
      try {
        ftruncateSync(fd, this.size);
      } catch {
        // the next batch's positioned write still starts at the cut
      }
      throw error;
    } finally {
      closeSync(fd);
      if (dirFd !== undefined) closeSync(dirFd);
    }
  }
}
