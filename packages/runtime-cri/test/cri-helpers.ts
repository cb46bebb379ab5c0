// Shared set-up of the real-containerd tests: a private containerd (from @org/testkit), tasks in temp dirs,
// runtimes with their own executor ids, and readers for the CRI log format.
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ContainerSpec, RuntimeTask } from "@org/task-core";
import { announceSkip, containerdSkipReason, startContainerd, type ContainerdEnv } from "@org/testkit";
import { createCriRuntime, type CriRuntime, type CriRuntimeOptions } from "../src/index.js";

export const BUSYBOX = "localhost/busybox:test";

/** Why these tests cannot run here (announced loudly), or undefined: then they must run. */
export const skipReason = containerdSkipReason();
if (skipReason) announceSkip(skipReason, "@org/runtime-cri containerd tests");

export { startContainerd, type ContainerdEnv };

export function newExecutorId(): string {
  return `test-${randomUUID().slice(0, 8)}`;
}

let testRoot: string | undefined;

/** A fresh directory under this test process's root (removed by {@link removeTestDirs}). */
export function testDir(prefix: string): string {
  testRoot ??= mkdtempSync(join(tmpdir(), "runtime-cri-test-"));
  return mkdtempSync(join(testRoot, `${prefix}-`));
}

export function removeTestDirs(): void {
  if (testRoot) rmSync(testRoot, { recursive: true, force: true });
  testRoot = undefined;
}

export function newTask(container: Partial<ContainerSpec>, name = `t-${randomUUID().slice(0, 8)}`): RuntimeTask {
  const dir = testDir(`task-${name}`);
  return { name, dir, spec: { container: { image: BUSYBOX, ...container } } };
}

export function newRuntime(env: ContainerdEnv, options: Partial<CriRuntimeOptions> = {}): CriRuntime {
  return createCriRuntime({
    socketPath: env.socketPath,
    executorId: options.executorId ?? newExecutorId(),
    volumes: {},
    graceMs: 1000,
    maxLogBytes: 0,
    ...options,
  });
}

export interface LogRecord {
  time: string;
  stream: string;
  tag: string;
  text: string;
}

const RECORD = /^(\S+) (stdout|stderr) ([PF]) (.*)$/;

/** Parses a CRI log file; throws on a line that is not a CRI record. */
export function readCriLog(path: string): LogRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const match = RECORD.exec(line);
      if (!match) throw new Error(`not a CRI log line: ${JSON.stringify(line)}`);
      const [, time = "", stream = "", tag = "", text = ""] = match;
      return { time, stream, tag, text };
    });
}

/** The stdout lines of a task's container.log. */
export function stdoutLines(task: RuntimeTask): string[] {
  return readCriLog(join(task.dir, "container.log"))
    .filter((r) => r.stream === "stdout")
    .map((r) => r.text);
}

export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
