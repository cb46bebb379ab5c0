import type { Task } from "@org/task-core";
import { waitFor, type ExecutorProcess } from "@org/testkit";

/** Sends a raw request (for bad-input tests) and returns status and parsed JSON body (or text). */
export async function raw(executor: ExecutorProcess, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(`${executor.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json: json as Record<string, unknown> | undefined, text, headers: response.headers };
}

export function terminatedOf(task: Task) {
  return "terminated" in task.status.state ? task.status.state.terminated : undefined;
}

/** Waits until the task is terminated and returns its terminated state. */
export async function waitTerminated(executor: ExecutorProcess, name: string, timeoutMs = 20_000) {
  return waitFor(async () => terminatedOf(await executor.client.getTask(name)), timeoutMs);
}

export function shTask(name: string, script: string, extra: Record<string, unknown> = {}) {
  return { name, spec: { process: { command: ["sh", "-c"], args: [script], ...extra } } };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
