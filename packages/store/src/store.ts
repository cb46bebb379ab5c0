import { randomBytes } from "node:crypto";
import { constants, mkdirSync } from "node:fs";
import { access, mkdir, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { isValidTaskName, silentLogger, taskDirName, type Logger } from "@org/task-core";
import { TEMP_MARKER, writeFileAtomic, type SyncObserver } from "./atomic.js";
import { directoryBytes, makeDirectories } from "./directories.js";
import { JournalSegment, keptJson, listSegments, segmentName } from "./journal.js";
import { parkedName, TRASH_DIR } from "./layout.js";
import { replaySegments, scanTaskDirectories } from "./recovery.js";
import { readSnapshot, SNAPSHOT_FILE, writeSnapshot } from "./snapshot.js";
import { type TaskRecord } from "./record.js";

/** What the recovery scan found: the tasks, and what it had to repair or set aside. */
export interface RecoveryScan {
  records: TaskRecord[];
  problems: string[];
}

/** Hooks for metrics: the store reports what it spends on the disk. */
export interface StoreObserver {
  /** Each fsync of a file or directory, in seconds. */
  fsync?: SyncObserver;
  /** Each create, save or remove: its whole duration, until its journal commit is durable. */
  operation?: (op: StoreOperation, result: "ok" | "error", seconds: number) => void;
}

export type StoreOperation = "create" | "save" | "remove";

export interface StoreOptions {
  /** Size at which the journal's active segment is retired into a new snapshot (default 4 MiB). */
  segmentLimitBytes?: number;
  /** A quiet spell after which the active segment is retired anyway (default 60 s). */
  idleCheckpointMs?: number;
}

/** Thrown when a task directory already exists. */
export class TaskExistsError extends Error {
  constructor(readonly taskName: string) {
    super(`task ${taskName} already exists`);
    this.name = "TaskExistsError";
  }
}

/** Above this size the active journal segment is retired: a new snapshot is written and the segment dropped. */
const SEGMENT_LIMIT_BYTES = 4 << 20;
/** A quiet spell after which the active segment is retired anyway. */
const IDLE_CHECKPOINT_MS = 60_000;

/**
 * The executor's durable state: a snapshot of every task's record plus a write-ahead journal of the changes since,
 * in the data dir, and one directory per task for the runtime's files.
 *
 * Every change is one line in the journal's active segment, and group commit makes it durable: one write and one
 * fdatasync cover all the changes made while the previous commit was on the disk, so a busy executor pays one
 * flush per batch instead of several per task. When a segment is retired (above {@link SEGMENT_LIMIT_BYTES}, after
 * a quiet spell, and at close) a new snapshot is written atomically and the segments before it are dropped.
 * Opening a data dir reads the snapshot and replays the segments after it; a directory neither knows (a data dir
 * of an earlier version, with a `task.json` per task) is read from its `task.json`.
 */
export class TaskStore {
  private segment: JournalSegment | undefined;
  private retiring: Promise<void> | undefined;
  /**
   * Every task's newest committed record, with its JSON when it is small (the journal's entry made it): what a
   * snapshot holds. A checkpoint then writes the JSON it has instead of serialising every record again.
   */
  private readonly live = new Map<string, { record: TaskRecord; json?: string }>();
  /**
   * What was committed between opening and the first scan, by directory name (undefined: removed), for that scan;
   * not kept after it (the executor scans before it changes anything, and `live` is all a later scan needs).
   */
  private readonly changed = new Map<string, TaskRecord | undefined>();
  /** Read at open for the scan: the snapshot's records and the replayed journal's changes, by directory name. */
  private opened: { snapshot: Map<string, TaskRecord>; replayed: Map<string, TaskRecord | undefined>; unclean: boolean } | undefined;
  private readonly problems: string[] = [];
  private appends = 0;
  /** Size of the last snapshot written. */
  private snapshotBytes = 0;
  private appendsAtLastTick = 0;
  private readonly idleTimer: NodeJS.Timeout;

  private constructor(
    readonly dataDir: string,
    private readonly logger: Logger,
    private readonly observer: StoreObserver,
    private readonly segmentLimitBytes: number,
    idleCheckpointMs: number,
  ) {
    this.idleTimer = setInterval(() => this.checkpointWhenIdle(), idleCheckpointMs).unref();
  }

  /**
   * Opens (creating if needed) a data dir, reading its snapshot and the journal after it; fails with a message
   * naming the data dir when it is not writable.
   */
  static async open(dataDir: string, logger: Logger = silentLogger, observer: StoreObserver = {}, options: StoreOptions = {}): Promise<TaskStore> {
    try {
      await makeDirectories(dataDir);
      await access(dataDir, constants.W_OK | constants.X_OK);
      const probe = join(dataDir, `.probe${TEMP_MARKER}${randomBytes(4).toString("hex")}`);
      await writeFileAtomic(probe, "");
      await unlink(probe);
    } catch (error) {
      throw new Error(`data dir ${dataDir} is not writable: ${(error as Error).message}`);
    }
    await rm(join(dataDir, TRASH_DIR), { recursive: true, force: true });
    const store = new TaskStore(dataDir, logger, observer, options.segmentLimitBytes ?? SEGMENT_LIMIT_BYTES, options.idleCheckpointMs ?? IDLE_CHECKPOINT_MS);
    const snapshot = readSnapshot(join(dataDir, SNAPSHOT_FILE));
    if (snapshot.problem) store.problems.push(snapshot.problem);
    store.snapshotBytes = snapshot.bytes;
    const numbers = listSegments(dataDir);
    const replayed = replaySegments(dataDir, numbers, store.problems);
    if (numbers.length > 0) logger.info("replaying the journal an unclean stop left", { segments: numbers.length, changes: replayed.size });
    store.opened = { snapshot: snapshot.records, replayed, unclean: numbers.length > 0 };
    store.segment = await store.newSegment((numbers.at(-1) ?? -1) + 1);
    return store;
  }

  /**
   * The directory of a task: `<data-dir>/<taskDirName(name)>` (the name itself, or for names longer than 253
   * characters one derived from it). Names are validated, so this never leaves the data dir.
   */
  taskDir(name: string): string {
    if (!isValidTaskName(name)) throw new Error(`invalid task name ${JSON.stringify(String(name).slice(0, 600))}`);
    return join(this.dataDir, taskDirName(name));
  }

  /** Creates the task's directory and first record; TaskExistsError when the directory exists. */
  create(record: TaskRecord): Promise<void> {
    return this.timed("create", () => this.createNow(record));
  }

  private async createNow(record: TaskRecord): Promise<void> {
    const dir = this.taskDir(record.name);
    try {
      // Synchronous: one directory entry, microseconds, where a thread-pool trip puts the create back at the end of
      // the event loop's queue (under 200 clients, tens of milliseconds each).
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new TaskExistsError(record.name);
      throw error;
    }
    try {
      // The same commit makes the new directory's entry in the data dir durable.
      await this.append(record.name, record, true);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Persists a record (a whole snapshot); resolves when it is durable. Changes of a task land in call order. */
  save(record: TaskRecord): Promise<void> {
    return this.timed("save", () => this.append(record.name, record));
  }

  /** Writes a last snapshot and drops the journal; the executor calls it before it exits. Changes after it fail. */
  async close(): Promise<void> {
    clearInterval(this.idleTimer);
    while (this.retiring) await this.retiring;
    const last = this.segment;
    this.segment = undefined;
    await last?.close();
    await this.checkpoint(Number.POSITIVE_INFINITY);
  }

  /** Removes a task's directory with everything in it; the name is free again at once. */
  remove(name: string): Promise<void> {
    return this.timed("remove", () => this.removeNow(name));
  }

  private async removeNow(name: string): Promise<void> {
    const dir = this.taskDir(name);
    // Durable first: from here on a crash finishes the removal (the scan finds a directory no record claims).
    await this.append(name, undefined);
    const trash = join(this.dataDir, TRASH_DIR);
    await mkdir(trash, { recursive: true });
    const parked = join(trash, parkedName(taskDirName(name), randomBytes(6).toString("hex")));
    try {
      await rename(dir, parked);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    await rm(parked, { recursive: true, force: true });
  }

  private async append(name: string, record: TaskRecord | undefined, newDirectory = false): Promise<void> {
    const segment = this.segment;
    if (!segment) throw new Error(`the task store of ${this.dataDir} is closed`);
    this.appends++;
    await segment.append(name, record, newDirectory);
    // Retired once it outgrows the snapshot too: each snapshot then costs no more than the changes it absorbs.
    if (segment.bytes >= Math.max(this.segmentLimitBytes, this.snapshotBytes)) this.retire(segment);
  }

  private newSegment(n: number): Promise<JournalSegment> {
    const committed = (name: string, record: object | undefined, json: string | undefined) => {
      const taskRecord = record as TaskRecord | undefined;
      if (taskRecord) this.live.set(name, { record: taskRecord, ...(json !== undefined ? { json } : {}) });
      else this.live.delete(name);
      if (this.opened) this.changed.set(taskDirName(name), taskRecord);
    };
    return JournalSegment.create(this.dataDir, n, committed, this.observer.fsync);
  }

  /** Retires the active segment when nothing changed for a while: a quiet executor leaves little to replay. */
  private checkpointWhenIdle(): void {
    const idle = this.appends === this.appendsAtLastTick;
    this.appendsAtLastTick = this.appends;
    if (idle && this.segment && this.segment.bytes > 0) this.retire(this.segment);
  }

  private retire(segment: JournalSegment): void {
    if (segment !== this.segment || this.retiring) return;
    this.retiring = this.retireActiveSegment()
      .catch((error: unknown) => {
        this.logger.error("cannot write the journal's snapshot; the journal is kept, and retired again later", { error: String(error) });
      })
      .finally(() => (this.retiring = undefined));
  }

  /** Starts a new segment for what follows; once the full one's commits are in, snapshots and drops it. */
  private async retireActiveSegment(): Promise<void> {
    const full = this.segment!;
    this.segment = await this.newSegment(full.number + 1);
    await full.close();
    await this.checkpoint(this.segment.number);
  }

  /**
   * Writes every committed record to a new snapshot (atomically: temp file, fsync, rename, fsync of the data dir),
   * then drops the segments numbered below `before`, which it covers. A record the snapshot holds may also be in a
   * later segment: replaying it again changes nothing.
   */
  private async checkpoint(before: number): Promise<void> {
    this.snapshotBytes = await writeSnapshot(join(this.dataDir, SNAPSHOT_FILE), this.liveJson(), this.observer.fsync);
    for (const n of listSegments(this.dataDir)) if (n < before) await unlink(join(this.dataDir, segmentName(n)));
  }

  /** Every live record's JSON; a small one serialised here is kept for the next checkpoint too. */
  private *liveJson(): Iterable<string> {
    for (const entry of this.live.values()) {
      if (entry.json !== undefined) {
        yield entry.json;
        continue;
      }
      const json = JSON.stringify(entry.record);
      entry.json = keptJson(json);
      yield json;
    }
  }

  /** Runs a write and reports its duration and result to the observer. */
  private timed(op: StoreOperation, write: () => Promise<void>): Promise<void> {
    const observe = this.observer.operation;
    if (!observe) return write();
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const result = write();
    result.then(
      () => observe(op, "ok", seconds()),
      () => observe(op, "error", seconds()),
    );
    return result;
  }

  /** Bytes used by a task's directory and everything below it (links are not followed). */
  diskUsage(name: string): Promise<number> {
    return directoryBytes(this.taskDir(name));
  }

  /**
   * Reads every task back at start-up: the snapshot's records, then the journal's changes after it; a task
   * directory neither knows is read from its `task.json` (a data dir of an earlier version). Never fails for one
   * bad task: a directory without a readable, matching `task.json` is moved aside to `.quarantine/` and reported
   * (also one whose create a crash cut off before it was journaled), and after an unclean stop leftover temp files
   * are removed and reported. A record whose directory a power cut lost gets its directory again (recovery.ts).
   */
  async scan(): Promise<RecoveryScan> {
    const opened = this.opened ?? { snapshot: new Map(), replayed: new Map(), unclean: false };
    const known = this.opened
      ? new Map<string, TaskRecord | undefined>([...opened.snapshot, ...opened.replayed, ...this.changed])
      : new Map<string, TaskRecord | undefined>([...this.live.values()].map(({ record }) => [taskDirName(record.name), record]));
    this.opened = undefined;
    this.changed.clear();
    const scanned = await scanTaskDirectories(this.dataDir, known, opened.unclean);
    const problems = [...this.problems.splice(0), ...scanned.problems];
    for (const problem of problems) this.logger.warn("data dir recovery", { problem });
    for (const record of scanned.records) this.live.set(record.name, { record });
    // What was replayed or read from task files goes into a snapshot now, so the next start reads one file.
    if (opened.unclean || scanned.readFromTaskFiles > 0) {
      while (this.retiring) await this.retiring;
      if (this.segment) await this.checkpoint(this.segment.number);
    }
    return { records: scanned.records, problems };
  }
}
