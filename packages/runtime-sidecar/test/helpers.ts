import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProcessSpec, RuntimeTask } from "@org/task-core";

/** Says loudly that a suite does not run here, and why. */
export function loudSkip(what: string, reason: string): void {
  const line = "!".repeat(100);
  console.warn(`\n${line}\n!!! SKIPPED: ${what}\n!!! because: ${reason}\n${line}\n`);
}

export async function newTask(name: string, spec: ProcessSpec): Promise<RuntimeTask> {
  return { name, spec: { process: spec }, dir: await mkdtemp(join(tmpdir(), `sidecar-${name}-`)) };
}

/** The text of a task's CRI-format log file (`<time> <stream> <P|F> <text>`). */
export async function logText(task: RuntimeTask, file = "stdout.log"): Promise<string> {
  const content = await readFile(join(task.dir, file), "utf8").catch(() => "");
  let text = "";
  for (const line of content.split("\n")) {
    const match = /^\S+ \S+ ([PF]) (.*)$/.exec(line);
    if (match) text += match[1] === "F" ? `${match[2]}\n` : match[2];
  }
  return text;
}

/** The pid of the first process (as seen from the test) whose space-joined command line matches. */
export async function findHostProcess(match: (cmdline: string) => boolean, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const entry of await readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
      if (cmdline && match(cmdline.split("\0").join(" ").trim()) && !(await isGone(Number(entry)))) return Number(entry);
    }
    if (Date.now() > deadline) throw new Error("no such process appeared");
    await sleep(50);
  }
}

/** True when the process no longer exists or is a zombie. */
export async function isGone(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat === undefined || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

export async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isGone(pid))) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

export function killQuietly(pid: number, signal: NodeJS.Signals = "SIGKILL"): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Field of /proc/PID/stat by its number (1-based, as in proc(5)). */
export async function statField(pid: number, field: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[field - 3];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
