import { randomBytes } from "node:crypto";
import { constants, lstatSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { access, lstat, mkdir, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { isValidTaskName, silentLogger, taskDirName, type Logger } from "@org/task-core";
import { syncDirectory, TEMP_MARKER, writeFileAtomic, type SyncObserver } from "./atomic.js";
import { TaskRecordSchema, type TaskRecord } from "./record.js";

/** Directories of the data dir that are not tasks (task names cannot start with a dot). */
const QUARANTINE_DIR = ".quarantine";
const TRASH_DIR = ".trash";
export const TASK_FILE = "task.json";
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

/** A write of one task not yet begun: the snapshot it will write (replaced by newer saves) and its outcome. */
interface QueuedWrite {
  data: string;
  done: Promise<void>;
}

/** The writes of one task: the last one in line, and the one still waiting to begin, if any. */
interface WriteChain {
  tail: Promise<void>;
  queued: QueuedWrite | undefined;
}

/** Hooks for metrics: the store reports what it spends on the disk. */
export interface StoreObserver {
  /** Each fsync of a file or directory, in seconds. */
  fsync?: SyncObserver;
  /** Each create, save or remove: its whole duration (fsyncs and waiting for the task's earlier writes included). */
  operation?: (op: StoreOperation, result: "ok" | "error", seconds: number) => void;
}

export type StoreOperation = "create" | "save" | "remove";

/** Thrown when a task directory already exists. */
export class TaskExistsError extends Error {
  constructor(readonly taskName: string) {
    super(`task ${taskName} already exists`);
    this.name = "TaskExistsError";
  }
}

/**
 * The executor's durable state: one directory per task under the data dir, holding `task.json` and the
 * runtime's files. Writes of one task are serialised, and every write is atomic.
 */
export class TaskStore {
  private readonly writes = new Map<string, WriteChain>();

  private constructor(
    readonly dataDir: string,
    private readonly logger: Logger,
    private readonly observer: StoreObserver,
  ) {}

  /** Opens (creating if needed) a data dir; fails with a message naming it when it is not writable. */
  static async open(dataDir: string, logger: Logger = silentLogger, observer: StoreObserver = {}): Promise<TaskStore> {
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
    return new TaskStore(dataDir, logger, observer);
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
      await mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new TaskExistsError(record.name);
      throw error;
    }
    try {
      // The new directory's entry in the data dir must be durable before the create is acknowledged.
      await syncDirectory(this.dataDir, this.observer.fsync);
      await this.queueSave(record);
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Persists a record atomically; writes of one task happen in call order. Records are whole snapshots, so a
   * save made while an earlier write of the same task is still on disk replaces any save queued behind that write
   * instead of queueing another: the newest snapshot is written once and every caller it covers resolves when it
   * is durable. (A short task's `running` record is then often never written: its `terminated` one replaces it.)
   */
  save(record: TaskRecord): Promise<void> {
    return this.timed("save", () => this.queueSave(record));
  }

  private queueSave(record: TaskRecord): Promise<void> {
    const data = JSON.stringify(record);
    const chain = this.writes.get(record.name);
    if (chain?.queued) {
      chain.queued.data = data;
      return chain.queued.done;
    }
    const path = join(this.taskDir(record.name), TASK_FILE);
    let settle!: { resolve: () => void; reject: (error: unknown) => void };
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const queued: QueuedWrite = { data, done };
    const next: WriteChain = { tail: done, queued };
    this.writes.set(record.name, next);
    void (chain?.tail ?? Promise.resolve())
      .catch(() => undefined) // the earlier write's caller got its failure; this write is tried regardless
      .then(() => {
        next.queued = undefined; // from here on a save queues behind this write
        return writeFileAtomic(path, queued.data, this.observer.fsync);
      })
      .then(settle.resolve, settle.reject)
      .finally(() => {
        if (this.writes.get(record.name) === next && !next.queued) this.writes.delete(record.name);
      });
    return done;
  }

  /**
   * Resolves once every write begun or queued so far is done (failed ones included): the executor awaits it
   * before it exits, since state changes are written in the background.
   */
  async flush(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes.values()].map((chain) => chain.tail.catch(() => undefined)));
  }

  /** Removes a task's directory with everything in it; the name is free again at once. */
  remove(name: string): Promise<void> {
    return this.timed("remove", () => this.removeNow(name));
  }

  private async removeNow(name: string): Promise<void> {
    const dir = this.taskDir(name);
    await (this.writes.get(name)?.tail ?? Promise.resolve()).catch(() => undefined);
    const trash = join(this.dataDir, TRASH_DIR);
    await mkdir(trash, { recursive: true });
    const parked = join(trash, `${taskDirName(name).slice(0, PARKED_NAME_PREFIX)}-${randomBytes(6).toString("hex")}`);
    try {
      await rename(dir, parked);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    await syncDirectory(this.dataDir, this.observer.fsync);
    await rm(parked, { recursive: true, force: true });
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
   * Reads every task back at start-up. Never fails for one bad task: a missing, corrupt or half-written
   * task.json is moved aside to `.quarantine/` and reported; leftover temp files are removed and reported.
   *
   * The reads are synchronous on purpose: the scan runs once, before the executor serves anything, and a
   * synchronous read of a small file costs a fraction of the CPU of the promise API's open/stat/read/close round
   * trips through the thread pool — which is what bounds a restart with thousands of tasks.
   */
  async scan(): Promise<RecoveryScan> {
    const records: TaskRecord[] = [];
    const problems: string[] = [];
    for (const entry of readdirSync(this.dataDir, { withFileTypes: true })) {
      if (entry.name.includes(TEMP_MARKER)) {
        rmSync(join(this.dataDir, entry.name), { force: true, recursive: true });
        problems.push(`removed leftover temp file ${entry.name}`);
        continue;
      }
      if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
      problems.push(...this.removeLeftoverTemps(entry.name));
      try {
        records.push(this.readRecord(entry.name));
      } catch (error) {
        const moved = await this.quarantine(entry.name);
        problems.push(`${entry.name}: ${(error as Error).message}; moved aside to ${moved}`);
      }
    }
    for (const problem of problems) this.logger.warn("data dir recovery", { problem });
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
