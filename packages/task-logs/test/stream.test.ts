import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readLogs, streamLogs } from "../src/index.js";
import { LOOK_MAX_BYTES } from "../src/follow.js";
import { at, line, taskDir, writeInterleaved, type TaskDir } from "./helpers.js";

let task: TaskDir;
beforeEach(async () => {
  task = await taskDir();
});
afterEach(async () => {
  await task.remove();
});

async function chunksOf(iterable: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

describe("streamLogs", () => {
  it("yields a log far larger than one look in bounded pieces, equal to readLogs", { timeout: 60_000 }, async () => {
    // About 24 MB of stdout and 12 MB of stderr, interleaved in time.
    const records = 200_000;
    const text = (n: number): string => `line ${n} `.padEnd(160, "y");
    await writeInterleaved(task, records, text);
    const files = [task.stdout, task.stderr];
    for (const query of [{ stream: "all" as const }, { stream: "stderr" as const, timestamps: true }, { stream: "all" as const, limitBytes: 9 * LOOK_MAX_BYTES }]) {
      const chunks = await chunksOf(streamLogs(files, query, { reuseBuffers: true }));
      expect(chunks.length).toBeGreaterThan(2);
      expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(4 * LOOK_MAX_BYTES);
      expect(Buffer.concat(chunks).equals(await readLogs(files, query))).toBe(true);
    }
  });

  it("ends at what a running task wrote so far, leaving out the line still being written", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "done"), line(2, "stdout", "P", "half "), Buffer.from(`${at(3)} stdout F unfinish`));
    const chunks = await chunksOf(streamLogs([task.stdout, task.stderr], { stream: "all" }));
    expect(Buffer.concat(chunks).toString()).toBe("done\nhalf ");
  });

  it("yields nothing for files that do not exist yet, and ends", async () => {
    expect(await chunksOf(streamLogs([task.stdout, task.stderr], { stream: "all", tailLines: 5 }))).toEqual([]);
  });

  it("yields nothing once the signal aborted", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const abort = new AbortController();
    abort.abort();
    expect(await chunksOf(streamLogs([task.stdout], { stream: "all" }, { signal: abort.signal }))).toEqual([]);
  });
});
