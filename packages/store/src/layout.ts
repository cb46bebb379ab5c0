/** Names in the data dir besides the snapshot and the journal's segments. */

/** Directories of the data dir that are not tasks (task names cannot start with a dot). */
export const QUARANTINE_DIR = ".quarantine";
export const TRASH_DIR = ".trash";
/** A task's record in data dirs of earlier versions. */
export const TASK_FILE = "task.json";

/** Room left in a 255-byte file name for what trash and quarantine append to a task's directory name. */
const PARKED_NAME_PREFIX = 200;

/** The name a task directory gets when it is moved into the trash or quarantine: unique, and short enough. */
export function parkedName(dirName: string, suffix: string): string {
  return `${dirName.slice(0, PARKED_NAME_PREFIX)}-${suffix}`;
}
