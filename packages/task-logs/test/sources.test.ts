import { rename, truncate } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closeAll } from "../src/files.js";
import { readForward } from "../src/lines.js";
import { continueSource, openSource, type ReadPosition } from "../src/sources.js";
import { line, taskDir, type TaskDir } from "./helpers.js";

let task: TaskDir;
beforeEach(async () => {
  task = await taskDir();
});
afterEach(async () => {
  await task.remove();
});

/** Reads what is new since `position` (or everything) and returns the texts and the next position. */
async function step(position?: ReadPosition, maxBytes?: number): Promise<[string[], ReadPosition, boolean]> {
  const source = position ? await continueSource(task.stdout, position, maxBytes) : await openSource(task.stdout);
  try {
    const texts: string[] = [];
    for await (const batch of readForward(source.ranges)) texts.push(...batch.map((record) => record.text.toString()));
    return [texts, source.next, source.more === true];
  } finally {
    await closeAll(source.handles);
  }
}

const rotate = (): Promise<void> => rename(task.stdout.path, task.stdout.rotatedPath);

describe("read positions", () => {
  it("reads only what was appended", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const [first, position] = await step();
    await task.append("stdout.log", line(2, "stdout", "F", "b"));
    const [second, next] = await step(position);
    const [third] = await step(next);
    expect([first, second, third]).toEqual([["a"], ["b"], []]);
  });

  it("reads the rest of a rotated file, then the new file", async () => {
    await task.write("stdout.log.1", line(1, "stdout", "F", "older"));
    await task.write("stdout.log", line(2, "stdout", "F", "a"));
    const [first, position] = await step();
    await task.append("stdout.log", line(3, "stdout", "F", "b"));
    await rotate();
    await task.write("stdout.log", line(4, "stdout", "F", "c"));
    const [second, next] = await step(position);
    const [third] = await step(next);
    expect([first, second, third]).toEqual([["older", "a"], ["b", "c"], []]);
  });

  it("reads a rotated file that replaced the one being read (rotated twice) in full", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const [, position] = await step();
    await task.append("stdout.log", line(2, "stdout", "F", "dropped"));
    await rotate();
    await task.write("stdout.log", line(3, "stdout", "F", "b"));
    await rotate();
    await task.write("stdout.log", line(4, "stdout", "F", "c"));
    const [texts] = await step(position);
    expect(texts).toEqual(["b", "c"]);
  });

  it("copes with the moment between rename and the new file", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"));
    const [, position] = await step();
    await task.append("stdout.log", line(2, "stdout", "F", "b"));
    await rotate();
    const [between, next] = await step(position);
    await task.write("stdout.log", line(3, "stdout", "F", "c"));
    const [after, last] = await step(next);
    const [none] = await step(last);
    expect([between, after, none]).toEqual([["b"], ["c"], []]);
  });

  it("starts again when a file is truncated in place", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"), line(2, "stdout", "F", "b"));
    const [, position] = await step();
    await truncate(task.stdout.path, 0);
    await task.append("stdout.log", line(3, "stdout", "F", "c"));
    const [texts] = await step(position);
    expect(texts).toEqual(["c"]);
  });

  it("leaves an unfinished line for the next look", async () => {
    const record = line(1, "stdout", "F", "whole");
    await task.write("stdout.log", record.subarray(0, 12));
    const [first, position] = await step();
    await task.append("stdout.log", record.subarray(12));
    const [second] = await step(position);
    expect([first, second]).toEqual([[], ["whole"]]);
  });

  it("cuts a look at a line end near maxBytes and goes on from there, across a rotation, losing and repeating nothing", async () => {
    const record = (n: number): Buffer => line(n, "stdout", "F", `record-${n}`.padEnd(60, "."));
    const size = record(0).length;
    await task.write("stdout.log", ...Array.from({ length: 10 }, (_, n) => record(n)));
    await rotate();
    await task.write("stdout.log", ...Array.from({ length: 10 }, (_, n) => record(10 + n)));
    const start: ReadPosition = { currentId: undefined, offset: 0, rotatedId: undefined };
    const looks: string[][] = [];
    let position = start;
    for (let more = true; more; ) {
      const [texts, next, cut] = await step(position, 3 * size + 5);
      looks.push(texts);
      position = next;
      more = cut;
      if (looks.length > 20) throw new Error("no progress");
    }
    expect(looks.flat()).toEqual(Array.from({ length: 20 }, (_, n) => `record-${n}`.padEnd(60, ".")));
    expect(Math.max(...looks.map((texts) => texts.length))).toBe(3);
    const [after] = await step(position, 3 * size + 5);
    expect(after).toEqual([]);
  });

  it("reads a first line longer than maxBytes whole, so that a bounded look always makes progress", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "x".repeat(500)), line(2, "stdout", "F", "short"));
    const start: ReadPosition = { currentId: undefined, offset: 0, rotatedId: undefined };
    const [first, next, cut] = await step(start, 100);
    expect([first.map((text) => text.length), cut]).toEqual([[500], true]);
    const [second, , again] = await step(next, 100);
    expect([second, again]).toEqual([["short"], false]);
  });
});
