import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { logSize, readLogs, type LogQuery } from "../src/index.js";
import { at, dateAt, line, taskDir, type TaskDir } from "./helpers.js";

let task: TaskDir;
beforeEach(async () => {
  task = await taskDir();
});
afterEach(async () => {
  await task.remove();
});

const read = async (query: LogQuery): Promise<string> =>
  (await readLogs([task.stdout, task.stderr], query)).toString("latin1");

/** Process task: stdout and stderr interleaved; stdout.log was rotated once. */
async function writeProcessLogs(): Promise<void> {
  await task.write("stdout.log.1", line(1, "stdout", "F", "o1"), line(3, "stdout", "P", "o2a"));
  await task.write("stdout.log", line(4, "stdout", "F", "o2b"), line(6, "stdout", "F", "o3"));
  await task.write("stderr.log", line(2, "stderr", "F", "e1"), line(5, "stderr", "F", "e2"));
}

describe("readLogs", () => {
  it("joins partial records and reads the rotated file first", async () => {
    await writeProcessLogs();
    expect(await read({ stream: "stdout" })).toBe("o1\no2ao2b\no3\n");
  });

  it("filters a stream", async () => {
    await writeProcessLogs();
    expect(await read({ stream: "stderr" })).toBe("e1\ne2\n");
  });

  it("merges all files by time", async () => {
    await writeProcessLogs();
    expect(await read({ stream: "all" })).toBe("o1\ne1\no2ao2b\ne2\no3\n");
  });

  it("keeps file order on equal times", async () => {
    await task.write("stdout.log", line(1, "stdout", "F", "a"), line(2, "stdout", "F", "b"));
    await task.write("stderr.log", line(1, "stderr", "F", "x"), line(2, "stderr", "F", "y"));
    expect(await read({ stream: "all" })).toBe("a\nx\nb\ny\n");
    const reversed = await readLogs([task.stderr, task.stdout], { stream: "all" });
    expect(reversed.toString()).toBe("x\na\ny\nb\n");
  });

  it("round-trips binary output byte for byte", async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 0x0a));
    const invalidUtf8 = Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0xff]);
    await task.write("stdout.log", line(1, "stdout", "P", bytes), line(2, "stdout", "F", invalidUtf8));
    const out = await readLogs([task.stdout], { stream: "all" });
    expect(out.equals(Buffer.concat([bytes, invalidUtf8, Buffer.from("\n")]))).toBe(true);
  });

  it("skips malformed lines and a last line still being written", async () => {
    await task.write(
      "stdout.log",
      line(1, "stdout", "F", "a"),
      Buffer.from("garbage\n\n"),
      Buffer.from(`${at(2)} stdin F nope\n`),
      line(3, "stdout", "F", "b"),
      Buffer.from(`${at(4)} stdout F unfinished`),
    );
    expect(await read({ stream: "all" })).toBe("a\nb\n");
  });

  it("returns nothing for missing files", async () => {
    expect((await readLogs([task.stdout, task.stderr], { stream: "all" })).length).toBe(0);
    expect(await logSize([task.stdout, task.stderr])).toBe(0);
  });

  it("reads a containerd combined file with offsets in its times", async () => {
    await task.write(
      "container.log",
      Buffer.from("2024-05-01T12:00:00.1+02:00 stdout P hel\n"),
      Buffer.from("2024-05-01T10:00:00.2Z stderr F warn\n"),
      Buffer.from("2024-05-01T06:00:00.3-04:00 stdout F lo\n"),
      Buffer.from("2024-05-01T10:00:00.4Z stdout F:more done\n"),
    );
    const files = [task.combined];
    expect((await readLogs(files, { stream: "all" })).toString()).toBe("helwarn\nlo\ndone\n");
    expect((await readLogs(files, { stream: "stdout" })).toString()).toBe("hello\ndone\n");
    expect((await readLogs(files, { stream: "stderr", timestamps: true })).toString()).toBe(
      "2024-05-01T10:00:00.2Z warn\n",
    );
    const since = new Date("2024-05-01T10:00:00.300Z");
    expect((await readLogs(files, { stream: "stdout", since })).toString()).toBe("lo\ndone\n");
  });

  it("sums the bytes on disk", async () => {
    await writeProcessLogs();
    const expected = [
      line(1, "stdout", "F", "o1"),
      line(3, "stdout", "P", "o2a"),
      line(4, "stdout", "F", "o2b"),
      line(6, "stdout", "F", "o3"),
      line(2, "stderr", "F", "e1"),
      line(5, "stderr", "F", "e2"),
    ].reduce((sum, bytes) => sum + bytes.length, 0);
    expect(await logSize([task.stdout, task.stderr, task.stdout])).toBe(expected);
  });

  it("rejects invalid queries", async () => {
    await expect(readLogs([task.stdout], { stream: "all", limitBytes: -1 })).rejects.toThrow(RangeError);
    await expect(readLogs([task.stdout], { stream: "all", tailLines: 1.5 })).rejects.toThrow(RangeError);
  });
});

describe("readLogs options", () => {
  beforeEach(writeProcessLogs);
  const T = (n: number): string => at(n);

  it.each<[string, LogQuery, string]>([
    ["tail counts lines, not records", { stream: "stdout", tailLines: 2 }, "o2ao2b\no3\n"],
    ["tail of all streams", { stream: "all", tailLines: 3 }, "o2ao2b\ne2\no3\n"],
    ["tail larger than the output", { stream: "stderr", tailLines: 10 }, "e1\ne2\n"],
    ["tail 0", { stream: "all", tailLines: 0 }, ""],
    ["negative tail means all", { stream: "stderr", tailLines: -1 }, "e1\ne2\n"],
    ["since drops older records", { stream: "all", since: dateAt(4) }, "o2b\ne2\no3\n"],
    ["since keeps records at the time", { stream: "stderr", since: dateAt(5) }, "e2\n"],
    ["since then tail", { stream: "all", since: dateAt(2), tailLines: 2 }, "e2\no3\n"],
    [
      "timestamps use the first record of each line",
      { stream: "stdout", timestamps: true },
      `${T(1)} o1\n${T(3)} o2ao2b\n${T(6)} o3\n`,
    ],
    ["timestamps with tail", { stream: "stderr", timestamps: true, tailLines: 1 }, `${T(5)} e2\n`],
    [
      "timestamps with since cutting a line",
      { stream: "stdout", timestamps: true, since: dateAt(4) },
      `${T(4)} o2b\n${T(6)} o3\n`,
    ],
    ["limitBytes keeps the first bytes", { stream: "all", limitBytes: 5 }, "o1\ne1"],
    ["limitBytes 0", { stream: "all", limitBytes: 0 }, ""],
    ["limitBytes after tail", { stream: "stdout", tailLines: 2, limitBytes: 4 }, "o2ao"],
    ["limitBytes larger than the output", { stream: "stderr", limitBytes: 100 }, "e1\ne2\n"],
    [
      "limitBytes counts timestamps",
      { stream: "stderr", timestamps: true, limitBytes: T(2).length + 3 },
      `${T(2)} e1`,
    ],
  ])("%s", async (_name, query, expected) => {
    expect(await read(query)).toBe(expected);
  });

  it("counts a trailing partial record as a line", async () => {
    await task.append("stdout.log", line(7, "stdout", "P", "pa"), line(8, "stdout", "P", "rt"));
    expect(await read({ stream: "stdout", tailLines: 1 })).toBe("part");
    expect(await read({ stream: "stdout", tailLines: 2 })).toBe("o3\npart");
    expect(await read({ stream: "stdout", tailLines: 2, timestamps: true })).toBe(`${T(6)} o3\n${T(7)} part`);
  });
});
