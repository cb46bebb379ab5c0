/**
 * @org/store — the executor's durable state.
 *
 * - {@link TaskStore}: a snapshot of every record plus a group-committed journal of the changes since, one
 *   directory per task for the runtime's files, replay and recovery scan
 * - {@link TaskRecordSchema}: what is persisted about a task
 * - {@link writeFileAtomic}: temp file, fsync, rename, fsync of the directory
 * - {@link keptJson}: whether a JSON is small enough to keep in memory next to its object
 */
export { TaskStore, TaskExistsError, type RecoveryScan, type StoreObserver, type StoreOptions } from "./store.js";
export { directoryBytes } from "./directories.js";
export { TaskRecordSchema, TaskOriginSchema, type TaskRecord, type TaskOrigin } from "./record.js";
export { writeFileAtomic, syncDirectory, TEMP_MARKER, type SyncObserver } from "./atomic.js";
export { keptJson } from "./journal.js";
