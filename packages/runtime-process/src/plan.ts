import type { RuntimeTask } from "@org/task-core";

/** Every task's environment carries its name under this variable, so its processes can be told apart. */
export const TASK_MARKER_ENV = "TASK_EXECUTOR_TASK";

/** What the keeper really launches for a task. */
export interface LaunchPlan {
  /** argv[0] is looked up in the PATH of `env`. */
  argv: string[];
  /** The complete environment, as `NAME=value` entries. */
  env: string[];
  /** Directory to change to before exec; "" keeps the executor's working directory. */
  workingDir: string;
  /** cgroup.procs files the task joins before exec. */
  cgroupProcs: string[];
}

/** Turns the default plan into what is really launched (sidecar mode wraps it in nsenter). */
export type LaunchPlanner = (task: RuntimeTask, plan: LaunchPlan) => Promise<LaunchPlan>;

/**
 * The default plan: the task's command and args, the executor's environment plus the task's `env`
 * (the task's entries win) plus the task marker, and the task's working dir.
 */
export function defaultLaunchPlan(task: RuntimeTask, baseEnv: NodeJS.ProcessEnv = process.env): LaunchPlan {
  const spec = task.spec.process;
  if (!spec) throw new Error(`task ${task.name} has no process spec`);
  const env = new Map<string, string>(baseEnv === process.env ? processEnvEntries() : definedEntries(baseEnv));
  for (const { name, value } of spec.env ?? []) env.set(name, value);
  env.set(TASK_MARKER_ENV, task.name);
  return {
    argv: [...spec.command, ...(spec.args ?? [])],
    env: [...env].map(([name, value]) => `${name}=${value}`),
    workingDir: spec.workingDir ?? "",
    cgroupProcs: [],
  };
}

let processEnvSnapshot: Array<[string, string]> | undefined;

/**
 * The executor's own environment, read once: every read of `process.env` goes through the C++ environment, which
 * for each task start cost more CPU than the rest of its plan, and the executor never changes its environment.
 */
function processEnvEntries(): Array<[string, string]> {
  return (processEnvSnapshot ??= definedEntries(process.env));
}

function definedEntries(env: NodeJS.ProcessEnv): Array<[string, string]> {
  return Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined);
}

/** Merges environment entries: later entries win by name. */
export function mergeEnv(...lists: string[][]): string[] {
  const env = new Map<string, string>();
  for (const list of lists) {
    for (const entry of list) {
      const eq = entry.indexOf("=");
      if (eq > 0) env.set(entry.slice(0, eq), entry);
    }
  }
  return [...env.values()];
}
