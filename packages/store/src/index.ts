/**
 * @org/store — the executor's durable state.
 *
 * - {@link TaskStore}: one directory per task under the data dir, a group-committed journal in front of each
 *   task's `task.json`, replay and recovery scan
 * - {@link TaskRecordSchema}: what is persisted about a task
 * - {@link writeFileAtomic}: temp file, fsync, rename, fsync of the directory
 */
export { TaskStore, TaskExistsError, TASK_FILE, directoryBytes, type RecoveryScan, type StoreObserver, type StoreOptions } from "./store.js";
export { TaskRecordSchema, TaskOriginSchema, type TaskRecord, type TaskOrigin } from "./record.js";
export { writeFileAtomic, syncDirectory, TEMP_MARKER, type SyncObserver } from "./atomic.js";
