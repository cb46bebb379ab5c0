import { between, humanDuration } from "../duration.js";
import type { Colors } from "../terminal.js";
import type { TaskView } from "../view.js";

export const HEADERS = ["NAME", "STATE", "EXIT", "REASON", "AGE", "DURATION"];
export const WIDE_HEADERS = [...HEADERS, "LABELS", "COMMAND"];
export const WIDE_CLUSTER_HEADERS = [...HEADERS, "LABELS", "EXECUTOR", "COMMAND"];

/** The plain cells of one task's row (no colour): the same in both targets. */
export function taskRow(view: TaskView, wide: boolean, now = Date.now(), withExecutor = false): string[] {
  const age = between(view.created, undefined, now);
  const duration = view.duration ?? (view.started ? humanDuration(between(view.started, view.finished, now) ?? 0) : "");
  const state = view.deleting ? `${view.state} (deleting)` : view.state;
  const row = [
    view.name,
    state,
    view.exitCode === undefined ? "" : String(view.exitCode),
    view.reason ?? "",
    age === undefined ? "" : humanDuration(age),
    duration,
  ];
  if (!wide) return row;
  const labels = Object.entries(view.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  return withExecutor ? [...row, labels, view.executor ?? "", view.what] : [...row, labels, view.what];
}

/** Colour of a state/reason cell. */
export function colorState(cell: string, view: TaskView, colors: Colors): string {
  if (view.deleting) return colors.dim(cell);
  if (view.terminal) return view.exitCode === 0 && (view.reason === "Succeeded" || view.state === "Succeeded") ? colors.green(cell) : colors.red(cell);
  if (view.hasStarted) return colors.cyan(cell);
  return colors.yellow(cell);
}
