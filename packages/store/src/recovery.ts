import { lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { isValidTaskName, taskDirName } from "@org/task-core";
import { TEMP_MARKER } from "./atomic.js";
import { readSegment, segmentName } from "./journal.js";
import { parkedName, QUARANTINE_DIR, TASK_FILE } from "./layout.js";
import { TaskRecordSchema, type TaskRecord } from "./record.js";

/**
 * Reading back a data dir that a crash, a power cut or an earlier version left: the journal's segments after the
 * snapshot, and the task directories against the records known. Runs once, before the executor serves anything;
 * the reads are synchronous on purpose (a synchronous read of a small file costs a fraction of the CPU of the
 * promise API's round trips through the thread pool).
 */

/** Temp files of the runtimes' atomic writes. */
const RUNTIME_TEMP = /\.tmp[.-]/;
const RUNTIME_TEMP_MIN_AGE_MS = 60_000;

/**
 * The changes of the segments numbered `numbers` (oldest first), by directory name (undefined: removed). Entries
 * that do not parse or do not match the record schema are left out and reported in `problems`.
 */
export function replaySegments(dataDir: string, numbers: number[], problems: string[]): Map<string, TaskRecord | undefined> {
  const replayed = new Map<string, TaskRecord | undefined>();
  for (const n of numbers) {
    const segment = readSegment(join(dataDir, segmentName(n)));
    problems.push(...segment.problems);
    for (const entry of segment.entries) {
      if ("remove" in entry) {
        if (isValidTaskName(entry.remove)) replayed.set(taskDirName(entry.remove), undefined);
        continue;
      }
      const parsed = TaskRecordSchema.safeParse(entry.put);
      if (parsed.success) replayed.set(taskDirName(parsed.data.name), parsed.data);
      else problems.push(`a journal entry of ${segmentName(n)} does not match the task record schema: ${parsed.error.issues[0]?.message}; left out`);
    }
  }
  return replayed;
}

/** What the directory scan found: every task's record, what it repaired or set aside, and how many it read from task files. */
export interface DirectoryScan {
  records: TaskRecord[];
  problems: string[];
  readFromTaskFiles: number;
}

/**
 * Matches the data dir's task directories against `known` (records by directory name; undefined: removed). A known
 * directory yields its record, or is removed when its removal was journaled; an unknown one is read from its
 * `task.json`, or moved aside to `.quarantine/` when that is missing, cut short or not a record (also a create a
 * crash cut off before it was journaled). A record whose directory is gone (a power cut lost its creation) gets
 * the directory again. Leftover temp files are removed: in every unknown directory, and in known ones after an
 * `unclean` stop.
 */
export async function scanTaskDirectories(dataDir: string, known: Map<string, TaskRecord | undefined>, unclean: boolean): Promise<DirectoryScan> {
  const unmatched = new Map(known);
  const records: TaskRecord[] = [];
  const problems: string[] = [];
  let readFromTaskFiles = 0;
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (entry.name.includes(TEMP_MARKER)) {
      rmSync(join(dataDir, entry.name), { force: true, recursive: true });
      problems.push(`removed leftover temp file ${entry.name}`);
      continue;
    }
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    if (unmatched.has(entry.name)) {
      if (unclean) problems.push(...removeLeftoverTemps(dataDir, entry.name));
      const record = unmatched.get(entry.name);
      unmatched.delete(entry.name);
      if (record) records.push(record);
      // A removal the crash cut off after it was journaled: finish it.
      else rmSync(join(dataDir, entry.name), { force: true, recursive: true });
      continue;
    }
    problems.push(...removeLeftoverTemps(dataDir, entry.name));
    try {
      records.push(readTaskFile(dataDir, entry.name));
      readFromTaskFiles++;
    } catch (error) {
      const moved = await quarantine(dataDir, entry.name);
      problems.push(`${entry.name}: ${(error as Error).message}; moved aside to ${moved}`);
    }
  }
  for (const [dirName, record] of unmatched) {
    if (!record) continue;
    mkdirSync(join(dataDir, dirName), { mode: 0o700 });
    records.push(record);
  }
  return { records, problems, readFromTaskFiles };
}

function removeLeftoverTemps(dataDir: string, dirName: string): string[] {
  const dir = join(dataDir, dirName);
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

/** The record of a task directory of an earlier version's data dir, from its `task.json`. */
function readTaskFile(dataDir: string, dirName: string): TaskRecord {
  if (!dirName.includes("~") && !isValidTaskName(dirName)) throw new Error("directory name is not a valid task name");
  let text: string;
  try {
    text = readFileSync(join(dataDir, dirName, TASK_FILE), "utf8");
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

async function quarantine(dataDir: string, dirName: string): Promise<string> {
  const quarantineDir = join(dataDir, QUARANTINE_DIR);
  await mkdir(quarantineDir, { recursive: true });
  const target = join(quarantineDir, parkedName(dirName, String(Date.now())));
  await rename(join(dataDir, dirName), target);
  return target;
}
