import type { Readable } from "node:stream";
import type { NewTask } from "@org/task-core";
import type { TaskView } from "../view.js";
import type { ManifestItem } from "../manifest.js";

export interface LogRequest {
  stream?: "stdout" | "stderr" | "all";
  tailLines?: number;
  sinceSeconds?: number;
  sinceTime?: string;
  timestamps?: boolean;
}

export type { ManifestItem } from "../manifest.js";

/** What apply did (or, with `--dry-run`, would do), one line per task. */
export interface ApplyResult {
  name: string;
  action: "created" | "configured" | "unchanged" | "removed" | "applied";
  kind?: string;
}

export interface TaskList {
  views: TaskView[];
  /** The API's own list (the executor's array, the Kubernetes list), for `-o json|yaml`. */
  raw: unknown;
}

export interface TaskEventView {
  type: string;
  view: TaskView;
}

/** One executor or one cluster: every verb talks to a Target. */
export interface Target {
  readonly kind: "executor" | "cluster";
  /** The URL or `context/namespace`, for messages. */
  readonly where: string;
  create(task: NewTask): Promise<TaskView>;
  get(name: string): Promise<TaskView>;
  list(selector: string | undefined): Promise<TaskList>;
  /** Resolves with the task once it ended, or as it is when `timeoutMs` passed. */
  waitForEnd(name: string, timeoutMs: number | undefined): Promise<TaskView>;
  /** Resolves once the task started or ended (its output exists), or as it is after `timeoutMs`. */
  waitForStart(name: string, timeoutMs: number | undefined): Promise<TaskView>;
  logs(name: string, request: LogRequest): Promise<Buffer>;
  /** Output as it is written, until the task ends. */
  followLogs(name: string, request: LogRequest): Promise<Readable>;
  stop(name: string): Promise<TaskView>;
  delete(name: string): Promise<void>;
  /** Checks and converts every item first; throws naming the item before anything is sent. */
  prepareApply(items: ManifestItem[]): Promise<ApplyPlan>;
  health(): Promise<string>;
  serverVersion(): Promise<string | undefined>;
  /** Calls `onEvent` for every change until the signal aborts. */
  watch(selector: string | undefined, onEvent: (event: TaskEventView) => void, signal: AbortSignal): Promise<void>;
}

export interface ApplyPlan {
  /** Lines to tell the user before sending (tasks that will be removed). */
  warnings: string[];
  /** What will happen, without doing it. */
  preview: ApplyResult[];
  execute(): Promise<ApplyResult[]>;
}
