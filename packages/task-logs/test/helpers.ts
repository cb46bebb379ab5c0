import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogFile } from "../src/index.js";

/** An RFC 3339 UTC time with nanoseconds, 7 ns after `n` milliseconds after 2024-05-01T10:00:00Z (n < 3.6e6). */
export function at(n: number): string {
  const iso = new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + n).toISOString();
  return `${iso.slice(0, -1)}000007Z`;
}

/** `n` milliseconds after 2024-05-01T10:00:00Z: just before the record time {@link at}(n). */
export function dateAt(n: number): Date {
  return new Date(Date.UTC(2024, 4, 1, 10, 0, 0) + n);
}

/** One CRI line with its `\n`. */
export function line(n: number, stream: "stdout" | "stderr", tag: "P" | "F", text: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${at(n)} ${stream} ${tag} `), Buffer.from(text), Buffer.from("\n")]);
}

export interface TaskDir {
  dir: string;
  stdout: LogFile;
  stderr: LogFile;
  combined: LogFile;
  path(name: string): string;
  write(name: string, ...lines: Buffer[]): Promise<void>;
  append(name: string, ...lines: Buffer[]): Promise<void>;
  remove(): Promise<void>;
}

/** A fresh temp directory with the log file names of a process task and of a container task. */
export async function taskDir(): Promise<TaskDir> {
  const dir = await mkdtemp(join(tmpdir(), "task-logs-"));
  const path = (name: string): string => join(dir, name);
  const file = (name: string, stream: LogFile["stream"]): LogFile => ({
    path: path(name),
    rotatedPath: path(`${name}.1`),
    stream,
  });
  return {
    dir,
    stdout: file("stdout.log", "stdout"),
    stderr: file("stderr.log", "stderr"),
    combined: file("container.log", "combined"),
    path,
    write: (name, ...lines) => writeFile(path(name), Buffer.concat(lines)),
    append: (name, ...lines) => appendFile(path(name), Buffer.concat(lines)),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Writes `records` complete lines into stdout.log and stderr.log, interleaved in time: every third record (n % 3 == 0)
 * goes to stderr. Record n's text is `text(n)`.
 */
export async function writeInterleaved(task: TaskDir, records: number, text: (n: number) => string): Promise<void> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for (let n = 0; n < records; n++) (n % 3 === 0 ? err : out).push(line(n, n % 3 === 0 ? "stderr" : "stdout", "F", text(n)));
  await task.write("stdout.log", Buffer.concat(out));
  await task.write("stderr.log", Buffer.concat(err));
}

/** Collects an async iterable of buffers. */
export async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
