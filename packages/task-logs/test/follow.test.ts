import { rename } from "node:fs/promises";
import { createHash } from "node:crypto";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { poolStats } from "../src/pool.js";
import { followLogs, readLogs, type FollowControl, type LogFile, type LogQuery } from "../src/index.js";
import { LOOK_MAX_BYTES } from "../src/follow.js";
import { at, line, sleep, taskDir, writeInterleaved, type TaskDir } from "./helpers.js";

let task: TaskDir;
beforeEach(async () => {
  task = await taskDir();
});
afterEach(async () => {
  await task.remove();
});

/** Control options every follow of a run of the suite gets (the suite runs once without, once with pooled buffers). */
let defaults: Partial<FollowControl> = {};

interface Follower {
  /** Everything yielded so far. */
  text(): string;
  chunks: Buffer[];
  /** Resolves with everything yielded once the follow has ended. */
  done: Promise<string>;
  finish(): void;
  /** Waits until the output holds `expected`. */
  until(expected: string): Promise<void>;
}

function follow(files: LogFile[], query: LogQuery, control: Partial<FollowControl> = {}): Follower {
  let finished = false;
  const chunks: Buffer[] = [];
  const text = (): string => Buffer.concat(chunks).toString("latin1");
  const done = (async () => {
    const iterable = followLogs(files, query, { isFinished: () => finished, pollMs: 20, ...defaults, ...control });
    for await (const chunk of iterable) chunks.push(chunk);
    return text();
  })();
  return {
    text,
    chunks,
    done,
    finish: () => {
      finished = true;
    },
    async until(expected) {
      for (let waited = 0; !text().includes(expected); waited += 5) {
        if (waited > 5000) throw new Error(`timed out waiting for ${JSON.stringify(expected)} in ${JSON.stringify(text())}`);
        await sleep(5);
      }
    },
  };
}

describe.each([{ reuseBuffers: false }, { reuseBuffers: true }])("followLogs %o", (options) => {
  beforeAll(() => {
    defaults = options;
  });

  it("yields the tail first, then appended output, and ends once finished", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "old"), line(2, "stdout", "F", "kept"));
    const follower = follow([task.stdout, task.stderr], { stream: "all", tailLines: 1 });
    await follower.until("kept\n");
    await task.append("stderr.log", line(3, "stderr", "F", "err"));
    await follower.until("err\n");
    // A record written in two pieces is yielded once, when its line is complete.
    const last = line(4, "stdout", "F", "new");
    await task.append("stdout.log", last.subarray(0, 10));
    await sleep(60);
    await task.append("stdout.log", last.subarray(10));
    await follower.until("new\n");
    expect(follower.chunks.length).toBe(3);
    follower.finish();
    expect(await follower.done).toBe("kept\nerr\nnew\n");
  });

  it("yields everything written before the task finished", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const follower = follow([task.stdout, task.stderr], { stream: "all" });
    await follower.until("a\n");
    await task.append("stdout.log", line(2, "stdout", "P", "b"));
    await task.append("stderr.log", line(3, "stderr", "F", "c"));
    follower.finish();
    expect(await follower.done).toBe("a\nbc\n");
  });

  it("ends after the first read when the task has already finished", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"), line(2, "stdout", "F", "b"));
    const chunks: Buffer[] = [];
    for await (const chunk of followLogs([task.stdout], { stream: "stdout" }, { isFinished: async () => true })) {
      chunks.push(chunk);
    }
    expect(Buffer.concat(chunks).toString()).toBe("a\nb\n");
  });

  it("follows a file across rotations without losing or repeating records", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "1"), line(2, "stdout", "F", "2"));
    const follower = follow([task.stdout], { stream: "stdout" });
    await follower.until("2\n");
    await task.append("stdout.log", line(3, "stdout", "F", "3"));
    await rename(task.stdout.path, task.stdout.rotatedPath);
    await task.write("stdout.log", line(4, "stdout", "P", "4"));
    await follower.until("4");
    await task.append("stdout.log", line(5, "stdout", "F", "5"));
    await rename(task.stdout.path, task.stdout.rotatedPath);
    await sleep(50);
    await task.write("stdout.log", line(6, "stdout", "F", "6"));
    follower.finish();
    expect(await follower.done).toBe("1\n2\n3\n45\n6\n");
  });

  it("keeps line state between pieces: one timestamp per line", async () => {
    await task.write("stdout.log", line(1, "stdout", "P", "a"));
    const follower = follow([task.stdout], { stream: "stdout", timestamps: true });
    await follower.until("a");
    await task.append("stdout.log", line(2, "stdout", "F", "b"), line(3, "stdout", "F", "c"));
    follower.finish();
    expect(await follower.done).toBe(`${at(1)} ab\n${at(3)} c\n`);
  });

  it("applies since to new output too", async () => {
    await task.write("container.log", Buffer.from(`${at(5)} stdout F x\n`));
    const follower = follow([task.combined], { stream: "all", since: new Date(Date.parse(at(5)) - 1) });
    await follower.until("x\n");
    await task.append("container.log", Buffer.from(`${at(1)} stdout F too-old\n${at(6)} stderr F y\n`));
    await follower.until("y\n");
    follower.finish();
    expect(await follower.done).toBe("x\ny\n");
  });

  it("ends when limitBytes is reached", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "abc"));
    const follower = follow([task.stdout], { stream: "stdout", limitBytes: 6 });
    await follower.until("abc\n");
    await task.append("stdout.log", line(2, "stdout", "F", "defgh"));
    expect(await follower.done).toBe("abc\nde");
  });

  it("ends when the signal aborts", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const controller = new AbortController();
    const follower = follow([task.stdout], { stream: "stdout" }, { signal: controller.signal, pollMs: 60_000 });
    await follower.until("a\n");
    controller.abort();
    expect(await follower.done).toBe("a\n");
  });

  it("yields nothing once aborted before the start", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const signal = AbortSignal.abort();
    const follower = follow([task.stdout], { stream: "stdout" }, { signal });
    expect(await follower.done).toBe("");
  });

  it("waits for files that do not exist yet", async () => {
    const follower = follow([task.stdout, task.stderr], { stream: "all" });
    await sleep(40);
    await task.write("stderr.log", line(1, "stderr", "F", "late"));
    await follower.until("late\n");
    follower.finish();
    expect(await follower.done).toBe("late\n");
  });

  it("follows a busy writer that splits records and rotates", async () => {
    const follower = follow([task.stdout, task.stderr], { stream: "all" });
    let expected = "";
    for (let i = 1; i <= 600; i++) {
      const stream = i % 3 === 0 ? "stderr" : "stdout";
      const record = line(i, stream, "F", `record ${i}`);
      const name = `${stream}.log`;
      // Some records reach the file in two writes, as a reader may see them.
      const cut = i % 7 === 0 ? 9 : record.length;
      await task.append(name, record.subarray(0, cut));
      if (cut < record.length) await task.append(name, record.subarray(cut));
      expected += `record ${i}\n`;
      if (i % 150 === 0) {
        await follower.until(`record ${i}\n`);
        await rename(task.path(name), task.path(`${name}.1`));
      }
      if (i % 50 === 0) await sleep(5);
    }
    follower.finish();
    expect(await follower.done).toBe(expected);
  });

  it("follows far more output than one look reads in bounded pieces, in time order across both files", { timeout: 60_000 }, async () => {
    // About 32 MB (5 × LOOK_MAX_BYTES for stdout), interleaved in time with stderr: many cut looks, each merged.
    // What one yield holds is bounded by two looks (records are held back one look), not by the output's size.
    const records = 200_000;
    const text = (n: number): string => `line ${n} `.padEnd(120, "x");
    await writeInterleaved(task, records, text);
    const follower = follow([task.stdout, task.stderr], { stream: "all" });
    follower.finish();
    const all = await follower.done;
    expect(all).toBe(Array.from({ length: records }, (_, n) => `${text(n)}\n`).join(""));
    expect(follower.chunks.length).toBeGreaterThan(1);
    expect(Math.max(...follower.chunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(4 * LOOK_MAX_BYTES);
  });

  it("keeps time order when a running writer's output arrives faster than the looks read it", { timeout: 60_000 }, async () => {
    const text = (n: number): string => `row ${n} `.padEnd(200, "y");
    const follower = follow([task.stdout, task.stderr], { stream: "all" });
    const batches = 6;
    const perBatch = 25_000;
    // A writer stamps and writes records in time order across its files (what the keeper does, and what the
    // follow relies on): each batch's older half goes to stdout, appended first, its newer half to stderr. With
    // rows alternating between the files instead, a look made between the two appends would rightly yield
    // stdout rows newer than stderr rows not yet written (the test then failed on a loaded machine).
    for (let batch = 0; batch < batches; batch++) {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      for (let i = 0; i < perBatch; i++) {
        const n = batch * perBatch + i;
        const stream = i < perBatch / 2 ? "stdout" : "stderr";
        (stream === "stdout" ? out : err).push(line(n, stream, "F", text(n)));
      }
      await task.append("stdout.log", Buffer.concat(out));
      await task.append("stderr.log", Buffer.concat(err));
    }
    follower.finish();
    const all = await follower.done;
    expect(all).toBe(Array.from({ length: batches * perBatch }, (_, n) => `${text(n)}\n`).join(""));
  });

  it("holds back little when one file is far ahead of the other: the one ahead waits while the other is read", { timeout: 60_000 }, async () => {
    // All of stdout is older than all of stderr; both are several looks long. Without the wait, every look
    // would add 4 MiB of stderr to what is held back until stdout is read to its end.
    const text = (n: number): string => `ordered ${n} `.padEnd(150, "z");
    const perFile = 120_000;
    const out = Array.from({ length: perFile }, (_, n) => line(n, "stdout", "F", text(n)));
    const err = Array.from({ length: perFile }, (_, n) => line(perFile + n, "stderr", "F", text(perFile + n)));
    await task.write("stdout.log", Buffer.concat(out));
    await task.write("stderr.log", Buffer.concat(err));
    const follower = follow([task.stdout, task.stderr], { stream: "all" });
    follower.finish();
    const all = await follower.done;
    expect(all).toBe(Array.from({ length: 2 * perFile }, (_, n) => `${text(n)}\n`).join(""));
    // What is held back (and then yielded at once) stays within a few looks; stderr alone is 18 MB of text.
    expect(Math.max(...follower.chunks.map((chunk) => chunk.length))).toBeLessThanOrEqual(3 * LOOK_MAX_BYTES);
  });

  it("stops reading once the signal aborts, also in the middle of a backlog read look after look", { timeout: 60_000 }, async () => {
    const text = (n: number): string => `backlog ${n} `.padEnd(150, "w");
    await task.write("stdout.log", Buffer.concat(Array.from({ length: 200_000 }, (_, n) => line(n, "stdout", "F", text(n)))));
    const abort = new AbortController();
    const chunks: Buffer[] = [];
    for await (const chunk of followLogs([task.stdout, task.stderr], { stream: "all" }, { isFinished: () => true, signal: abort.signal, ...defaults })) {
      chunks.push(chunk);
      abort.abort();
    }
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.length).toBeLessThan(2 * LOOK_MAX_BYTES);
  });
});

describe("followLogs with reuseBuffers", () => {
  it("reuses buffers once the chunks made in them are collected, and yields the same bytes", { timeout: 60_000 }, async () => {
    // About 150 MB: far past the external memory after which V8 collects, so leases come back and are reused.
    const text = "p".repeat(90);
    const lineAt = (n: number): string => {
      const ns = n * 20_000; // 1.2 million lines in 24 s
      return `2024-05-01T10:00:${String(Math.floor(ns / 1e9)).padStart(2, "0")}.${String(ns % 1e9).padStart(9, "0")}Z stdout F ${n} ${text}\n`;
    };
    const block = (b: number): Buffer => Buffer.from(Array.from({ length: 20_000 }, (_, i) => lineAt(b * 20_000 + i)).join(""));
    await task.write("stdout.log", ...Array.from({ length: 60 }, (_, b) => block(b)));
    const all = await readLogs([task.stdout], { stream: "all" });
    const before = poolStats.reused;
    const hash = createHash("sha256");
    // Most chunks are dropped once hashed (their buffers may come back); every fifth is kept, and must stay intact.
    const kept: Array<{ chunk: Buffer; offset: number }> = [];
    let offset = 0;
    for await (const chunk of followLogs([task.stdout, task.stderr], { stream: "all" }, { isFinished: () => true, reuseBuffers: true })) {
      hash.update(chunk);
      if (kept.length * 5 <= offset / LOOK_MAX_BYTES) kept.push({ chunk, offset });
      offset += chunk.length;
    }
    expect(hash.digest("hex")).toBe(createHash("sha256").update(all).digest("hex"));
    expect(poolStats.reused - before).toBeGreaterThan(0);
    expect(kept.length).toBeGreaterThan(3);
    for (const { chunk, offset: at } of kept) expect(chunk.equals(all.subarray(at, at + chunk.length)), `the chunk at ${at} changed`).toBe(true);
  });
});
