import { randomBytes } from "node:crypto";
import { constants, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { access, lstat, mkdir, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isValidTaskName, silentLogger, taskDirName, type Logger } from "@org/task-core";
import { TEMP_MARKER, writeFileAtomic, type SyncObserver } from "./atomic.js";
import { JournalSegment, KEEP_JSON_CHARS, listSegments, readSegment, segmentName } from "./journal.js";
import { readSnapshot, SNAPSHOT_FILE, writeSnapshot } from "./snapshot.js";
import { TaskRecordSchema, type TaskRecord } from "./record.js";

/** Directories of the data dir that are not tasks (task names cannot start with a dot). */
const QUARANTINE_DIR = ".quarantine";
const TRASH_DIR = ".trash";
/** A task's record in data dirs of earlier versions. */
const TASK_FILE = "task.json";
/** Room left in a 255-byte file name for what trash and quarantine append to a task's directory name. */
const PARKED_NAME_PREFIX = 200;
/** Temp files of the runtimes' atomic writes. */
const RUNTIME_TEMP = /\.tmp[.-]/;
const RUNTIME_TEMP_MIN_AGE_MS = 60_000;

/** What the recovery scan found: the tasks, and what it had to repair or set aside. */
export interface RecoveryScan {
  records: TaskRecord[];
  problems: string[];
}

/** Bytes of the regular files under a directory, not following links. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else if (entry.isFile()) total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * Creates a directory and its missing parents. Unlike `mkdir(…, { recursive: true })` of Node 20, which loops
 * for ever on a path under /proc (its mkdir answers ENOENT there), every level is tried once, so a path that
 * cannot be created fails at once.
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return requireDirectory(dir, error as Error);
    if (code !== "ENOENT" || dirname(dir) === dir) throw error;
  }
  await makeDirectories(dirname(dir));
  try {
    await mkdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    await requireDirectory(dir, error as Error);
  }
}

async function requireDirectory(dir: string, cause: Error): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`${dir} exists and is not a directory`, { cause });
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
    store.opened = { snapshot: snapshot.records, replayed: store.replay(numbers), unclean: numbers.length > 0 };
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
    const parked = join(trash, `${taskDirName(name).slice(0, PARKED_NAME_PREFIX)}-${randomBytes(6).toString("hex")}`);
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
      if (json.length <= KEEP_JSON_CHARS) entry.json = json;
      yield json;
    }
  }

  /** The changes of the segments an unclean stop left, oldest first; entries that do not parse are reported. */
  private replay(numbers: number[]): Map<string, TaskRecord | undefined> {
    const replayed = new Map<string, TaskRecord | undefined>();
    for (const n of numbers) {
      const { entries, problems } = readSegment(join(this.dataDir, segmentName(n)));
      this.problems.push(...problems);
      for (const entry of entries) {
        if ("remove" in entry) {
          if (isValidTaskName(entry.remove)) replayed.set(taskDirName(entry.remove), undefined);
          continue;
        }
        const parsed = TaskRecordSchema.safeParse(entry.put);
        if (parsed.success) replayed.set(taskDirName(parsed.data.name), parsed.data);
        else this.problems.push(`a journal entry of ${segmentName(n)} does not match the task record schema: ${parsed.error.issues[0]?.message}; left out`);
      }
    }
    if (numbers.length > 0) this.logger.info("replaying the journal an unclean stop left", { segments: numbers.length, changes: replayed.size });
    return replayed;
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
   * are removed and reported. A record whose directory a power cut lost gets its directory again.
   *
   * The reads are synchronous on purpose: the scan runs once, before the executor serves anything, and a
   * synchronous read of a small file costs a fraction of the CPU of the promise API's round trips through the
   * thread pool.
   */
  async scan(): Promise<RecoveryScan> {
    const opened = this.opened ?? { snapshot: new Map(), replayed: new Map(), unclean: false };
    const known = this.opened
      ? new Map<string, TaskRecord | undefined>([...opened.snapshot, ...opened.replayed, ...this.changed])
      : new Map<string, TaskRecord | undefined>([...this.live.values()].map(({ record }) => [taskDirName(record.name), record]));
    this.opened = undefined;
    this.changed.clear();
    const records: TaskRecord[] = [];
    const problems: string[] = this.problems.splice(0);
    let readFromTaskFiles = 0;
    for (const entry of readdirSync(this.dataDir, { withFileTypes: true })) {
      if (entry.name.includes(TEMP_MARKER)) {
        rmSync(join(this.dataDir, entry.name), { force: true, recursive: true });
        problems.push(`removed leftover temp file ${entry.name}`);
        continue;
      }
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      if (known.has(entry.name)) {
        if (opened.unclean) problems.push(...this.removeLeftoverTemps(entry.name));
        const record = known.get(entry.name);
        known.delete(entry.name);
        if (record) records.push(record);
        // A removal the crash cut off after it was journaled: finish it.
        else rmSync(join(this.dataDir, entry.name), { force: true, recursive: true });
        continue;
      }
      problems.push(...this.removeLeftoverTemps(entry.name));
      try {
        records.push(this.readRecord(entry.name));
        readFromTaskFiles++;
      } catch (error) {
        const moved = await this.quarantine(entry.name);
        problems.push(`${entry.name}: ${(error as Error).message}; moved aside to ${moved}`);
      }
    }
    // Records whose directory is gone: its creation was not yet on the disk when the power went.
    for (const [dirName, record] of known) {
      if (!record) continue;
      mkdirSync(join(this.dataDir, dirName), { mode: 0o700 });
      records.push(record);
    }
    for (const problem of problems) this.logger.warn("data dir recovery", { problem });
    for (const record of records) this.live.set(record.name, { record });
    // What was replayed or read from task files goes into a snapshot now, so the next start reads one file.
    if (opened.unclean || readFromTaskFiles > 0) {
      while (this.retiring) await this.retiring;
      if (this.segment) await this.checkpoint(this.segment.number);
    }
    return { records, problems };
  }

  private removeLeftoverTemps(dirName: string): string[] {
    const dir = join(this.dataDir, dirName);
    const problems: string[] = [];
    for (const file of readdirSync(dir)) {
      if (!isLeftoverTemp(dir, file)) continue;
      try {
        unlinkSync(join(dir, file));
        problems.push(`${dirName}: removed leftover temp file ${file}`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") problems.push(`${dirName}: cannot remove leftover temp file ${file}: ${(error as Error).message}`);
      }
    }
    return problems;
  }

  private readRecord(dirName: string): TaskRecord {
    if (!dirName.includes("~") && !isValidTaskName(dirName)) throw new Error("directory name is not a valid task name");
    let text: string;
    try {
      text = readFileSync(join(this.dataDir, dirName, TASK_FILE), "utf8");
    } catch (error) {
      throw new Error(`cannot read ${TASK_FILE}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`${TASK_FILE} is not valid JSON (${text.length} bytes, probably cut short)`);
    }
    const parsed = TaskRecordSchema.safeParse(json);
    if (!parsed.success) throw new Error(`${TASK_FILE} does not match the task record schema: ${parsed.error.issues[0]?.message}`);
    if (taskDirName(parsed.data.name) !== dirName) throw new Error(`${TASK_FILE} names task ${parsed.data.name}, whose directory is not ${dirName}`);
    return parsed.data;
  }

  private async quarantine(dirName: string): Promise<string> {
    const quarantine = join(this.dataDir, QUARANTINE_DIR);
    await mkdir(quarantine, { recursive: true });
    const target = join(quarantine, `${dirName.slice(0, PARKED_NAME_PREFIX)}-${Date.now()}`);
    await rename(join(this.dataDir, dirName), target);
    return target;
  }
}

/**
 * A temp file of an interrupted atomic write: the executor's own (`task.json.tmp-…`, nobody writes those while
 * the executor starts) or a runtime's (`exit.tmp.…`, `pid.tmp.…`) once it is older than a minute, since a live
 * keeper may be about to rename a fresh one into place.
 */
function isLeftoverTemp(dir: string, file: string): boolean {
  if (file.startsWith(TASK_FILE) && file.includes(TEMP_MARKER)) return true;
  if (!RUNTIME_TEMP.test(file)) return false;
  const info = lstatSync(join(dir, file), { throwIfNoEntry: false });
  return info !== undefined && info.isFile() && Date.now() - info.mtimeMs > RUNTIME_TEMP_MIN_AGE_MS;
}
