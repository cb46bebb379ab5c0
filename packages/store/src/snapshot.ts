import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFileAtomic, type SyncObserver } from "./atomic.js";
import { taskDirName } from "@org/task-core";
import { TaskRecordSchema, type TaskRecord } from "./record.js";

/**
 * Every task's record in one file, written by a clean stop: a restart reads one file instead of a `task.json` per
 * task. One record per line, then a trailer with their count and the SHA-256 of the lines. Records of a whole
 * snapshot are not validated again: the checksum is what proves them the executor's own.
 */
export const SNAPSHOT_FILE = "tasks.snapshot";

/**
 * Writes a snapshot of the records given as their JSON (one line each, no newline) atomically (temp file, fsync,
 * rename, fsync of the directory), in pieces of about 1 MiB: never the whole text in memory, which for large specs
 * would be as large again as every record. Returns its size.
 */
export async function writeSnapshot(path: string, recordJson: Iterable<string>, onSync?: SyncObserver): Promise<number> {
  const hash = createHash("sha256");
  let count = 0;
  let bytes = 0;
  await writeFileAtomic(path, async (write) => {
    let piece = "";
    const flush = async () => {
      hash.update(piece);
      bytes += await write(piece);
      piece = "";
    };
    for (const json of recordJson) {
      piece += `${json}\n`;
      count++;
      if (piece.length >= PIECE_CHARS) await flush();
    }
    await flush();
    bytes += await write(`${JSON.stringify({ snapshot: { count, sha256: hash.digest("hex") } })}\n`);
  }, onSync);
  return bytes;
}

const PIECE_CHARS = 1 << 20;

/**
 * The snapshot's records by directory name (none when there is none). When it is not whole (its checksum does not
 * match: the disk changed it), each line that still is a valid record is kept and the problem is reported.
 */
export function readSnapshot(path: string): { records: Map<string, TaskRecord>; bytes: number; problem?: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { records: new Map(), bytes: 0 };
    return { records: new Map(), bytes: 0, problem: `cannot read ${SNAPSHOT_FILE}: ${(error as Error).message}; left out` };
  }
  const end = text.lastIndexOf("\n", text.length - 2);
  const lines = text.slice(0, end + 1);
  const byDir = (records: TaskRecord[]) => new Map(records.map((record) => [taskDirName(record.name), record]));
  const trailer = parseOr(text.slice(end + 1)) as { snapshot?: { count?: number; sha256?: string } } | undefined;
  if (trailer?.snapshot?.sha256 === sha256(lines)) {
    return { records: byDir(lines === "" ? [] : lines.slice(0, -1).split("\n").map((line) => JSON.parse(line) as TaskRecord)), bytes: text.length };
  }
  const salvaged = lines
    .split("\n")
    .map((line) => TaskRecordSchema.safeParse(parseOr(line)))
    .flatMap((parsed) => (parsed.success ? [parsed.data] : []));
  return { records: byDir(salvaged), bytes: text.length, problem: `${SNAPSHOT_FILE} is not whole (its checksum does not match); kept the ${salvaged.length} record(s) that still are valid` };
}

function parseOr(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
