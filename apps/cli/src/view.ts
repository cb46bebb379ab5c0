import { type Task } from "@org/task-core";

/** One task as every verb sees it, whichever target it came from. */
export interface TaskView {
  name: string;
  namespace?: string;
  /** waiting | running | terminated (executor), or the phase (cluster). */
  state: string;
  exitCode?: number;
  reason?: string;
  message?: string;
  created?: string;
  started?: string;
  finished?: string;
  /** As the controller reports it (cluster), else computed from started/finished. */
  duration?: string;
  labels: Record<string, string>;
  /** `sh -c ...` for a process, the image for a container. */
  what: string;
  /** Where it runs (cluster: executor pod). */
  executor?: string;
  terminal: boolean;
  /** Started (or ended): its output can be read. */
  hasStarted: boolean;
  deleting: boolean;
  /** The API's object, printed unchanged by `-o json|yaml`. */
  raw: unknown;
}

/** A word as a shell would need it: quoted when it holds anything but safe characters. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** The command line or image of a spec, for tables. */
export function describeSpec(spec: { process?: { command: string[]; args?: string[] }; container?: { image: string; command?: string[]; args?: string[] } }): string {
  if (spec.process) return [...spec.process.command, ...(spec.process.args ?? [])].map(shellWord).join(" ");
  if (spec.container) {
    const command = [...(spec.container.command ?? []), ...(spec.container.args ?? [])].map(shellWord).join(" ");
    return command ? `${spec.container.image}: ${command}` : spec.container.image;
  }
  return "";
}

/** An executor task as a view. */
export function viewOfExecutorTask(task: Task): TaskView {
  const state = task.status.state;
  const base = {
    name: task.name,
    labels: task.labels ?? {},
    what: describeSpec(task.spec),
    deleting: task.deletionTimestamp !== undefined,
    raw: task,
    ...(task.creationTimestamp ? { created: task.creationTimestamp } : {}),
  };
  if ("terminated" in state) {
    const t = state.terminated;
    return {
      ...base,
      state: "terminated",
      exitCode: t.exitCode,
      reason: t.reason,
      ...(t.message ? { message: t.message } : {}),
      ...(t.startedAt ? { started: t.startedAt } : {}),
      finished: t.finishedAt,
      terminal: true,
      hasStarted: t.startedAt !== undefined,
    };
  }
  if ("running" in state) return { ...base, state: "running", started: state.running.startedAt, terminal: false, hasStarted: true };
  return {
    ...base,
    state: "waiting",
    reason: state.waiting.reason,
    ...(state.waiting.message ? { message: state.waiting.message } : {}),
    terminal: false,
    hasStarted: false,
  };
}
