import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLogs, type LogQuery } from "../src/index.js";
import { line, taskDir, type TaskDir } from "./helpers.js";

/** A small deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomText(next: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) {
    const byte = Math.floor(next() * 256);
    bytes[i] = byte === 0x0a ? 0x0b : byte;
  }
  return bytes;
}

/** Splits output into its lines, each with its `\n` (the last one may lack it). */
function splitLines(output: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let i = output.indexOf(0x0a); i >= 0; i = output.indexOf(0x0a, i + 1)) {
    lines.push(output.subarray(start, i + 1));
    start = i + 1;
  }
  if (start < output.length) lines.push(output.subarray(start));
  return lines;
}

describe("big logs over many chunks", () => {
  let task: TaskDir;
  const files = (): Parameters<typeof readLogs>[0] => [task.stdout, task.stderr];

  beforeAll(async () => {
    task = await taskDir();
    const next = random(42);
    const content: Record<string, Buffer[]> = { "stdout.log.1": [], "stdout.log": [], "stderr.log.1": [], "stderr.log": [] };
    const count = 20_000;
    for (let i = 0; i < count; i++) {
      const stream = next() < 0.6 ? "stdout" : "stderr";
      const huge = i % 5000 === 17;
      const text = randomText(next, huge ? 150_000 : Math.floor(next() * 200));
      const tag = next() < 0.3 ? "P" : "F";
      const name = `${stream}.log${i < count / 2 ? ".1" : ""}`;
      content[name]!.push(line(i, stream, tag, text));
    }
    // A last record that ends in a partial line.
    content["stdout.log"]!.push(line(count, "stdout", "P", "end"));
    for (const [name, lines] of Object.entries(content)) await task.write(name, ...lines);
  }, 30_000);

  afterAll(async () => {
    await task.remove();
  });

  it.each<[LogQuery["stream"], boolean]>([
    ["all", false],
    ["all", true],
    ["stdout", false],
    ["stderr", true],
  ])("tail of %s (timestamps %s) is the end of the full output", async (stream, timestamps) => {
    const full = await readLogs(files(), { stream, timestamps });
    const lines = splitLines(full);
    expect(lines.length).toBeGreaterThan(1000);
    for (const tailLines of [0, 1, 2, 7, 100, 3000, lines.length - 1, lines.length, lines.length + 5]) {
      const tail = await readLogs(files(), { stream, timestamps, tailLines });
      const expected = Buffer.concat(lines.slice(Math.max(0, lines.length - tailLines)));
      expect(tail.equals(tailLines === 0 ? Buffer.alloc(0) : expected)).toBe(true);
    }
  }, 30_000);

  it("limitBytes gives the first bytes of the full output", async () => {
    const full = await readLogs(files(), { stream: "all" });
    for (const limitBytes of [1, 1000, 65_536, 200_000, full.length, full.length + 1]) {
      const limited = await readLogs(files(), { stream: "all", limitBytes });
      expect(limited.equals(full.subarray(0, limitBytes))).toBe(true);
    }
  }, 30_000);
});
