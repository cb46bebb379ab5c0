import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RecordBatch } from "../src/batch.js";
import { followLogs, parseLogLine, readLogs, streamLogs, type LogQuery, type LogRecord } from "../src/index.js";
import { normalizeQuery, OutputBuilder, wanted } from "../src/output.js";
import { mergeSlices, splitAtTime, wholeBatches } from "../src/slices.js";
import { collect, taskDir, type TaskDir } from "./helpers.js";

/** RFC 3339 times in several layouts (fraction of any length or none, `Z` or an offset), some invalid. */
const time = fc
  .record({
    // Few seconds and mostly one layout, so that consecutive lines often share their second (the fast path).
    second: fc.integer({ min: 0, max: 1 }),
    fraction: fc.oneof(fc.constant(""), fc.stringMatching(/^[0-9]{9}$/), fc.stringMatching(/^[0-9]{1,9}$/), fc.constantFrom("12a", "1234567890")),
    suffix: fc.oneof({ weight: 6, arbitrary: fc.constant("Z") }, { weight: 1, arbitrary: fc.constantFrom("z", "+02:00", "-05:30", "+24:00", "Q") }),
    day: fc.oneof({ weight: 6, arbitrary: fc.constant("2024-05-01") }, { weight: 1, arbitrary: fc.constantFrom("2024-02-30", "1969-12-31") }),
    dot: fc.oneof({ weight: 6, arbitrary: fc.constant(".") }, { weight: 1, arbitrary: fc.constant(",") }),
  })
  .map(({ second, fraction, suffix, day, dot }) => `${day}T23:59:5${second}${fraction === "" ? "" : `${dot}${fraction}`}${suffix}`);

/** Text without a line end, with spaces and colons (which must not confuse the tag). */
const text = fc.array(fc.constantFrom("a", " ", ":", "F", "é", "\t"), { maxLength: 12 }).map((chars) => chars.join(""));

/** One line without its `\n`: mostly valid records, some malformed in each field. */
const logLine = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(time, fc.constantFrom("stdout", "stderr"), fc.constantFrom("F", "P", "F:x", "P:y:z"), text).map(([t, s, g, x]) => `${t} ${s} ${g} ${x}`) },
  { weight: 1, arbitrary: fc.tuple(time, fc.constantFrom("stdout", "stderr"), fc.constantFrom("F", "P")).map(([t, s, g]) => `${t} ${s} ${g}`) },
  { weight: 1, arbitrary: fc.tuple(time, fc.constantFrom("stdin", "stdoutx", "stde", ""), text).map(([t, s, x]) => `${t} ${s} F ${x}`) },
  { weight: 1, arbitrary: fc.tuple(time, fc.constantFrom("X", "FF", "", "f"), text).map(([t, g, x]) => `${t} stdout ${g} ${x}`) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "garbage", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z stdout") },
);

const query = fc.record({
  stream: fc.constantFrom("all", "stdout", "stderr") as fc.Arbitrary<LogQuery["stream"]>,
  since: fc.option(fc.constantFrom(new Date("2024-05-01T23:59:51Z"), new Date("2024-05-01T23:59:52.5Z"), new Date("1969-12-31T23:59:52Z")), { nil: undefined }),
  timestamps: fc.boolean(),
  limitBytes: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
});

function clean<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

describe("RecordBatch", () => {
  it("parses exactly the records parseLogLine parses, and makes the same output from them", () => {
    fc.assert(
      fc.property(fc.array(logLine, { maxLength: 40 }), query, (lines, raw) => {
        const normalized = normalizeQuery(clean(raw));
        const buffer = Buffer.from(lines.map((l) => `${l}\n`).join(""));
        const records = lines.map((l) => parseLogLine(Buffer.from(l))).filter((r): r is LogRecord => r !== undefined);
        const expected = new OutputBuilder(normalized);
        for (const record of records.filter((r) => wanted(normalized, r))) if (!expected.push(record)) break;
        const wantedTimes = records.filter((r) => wanted(normalized, r)).map((r) => r.timeNs);

        const batch = RecordBatch.parse(buffer, normalized);
        expect(Array.from({ length: batch.count }, (_, i) => batch.timeNs(i))).toEqual(wantedTimes);
        expect(batch.lastNs()).toBe(records.at(-1)?.timeNs);
        const newest = records.reduce<bigint | undefined>((max, r) => (max === undefined || r.timeNs > max ? r.timeNs : max), undefined);
        expect(batch.newestNs()).toBe(newest);
        const actual = new OutputBuilder(normalized);
        for (const slice of wholeBatches([batch])) actual.pushSlice(slice);
        expect(actual.take()).toEqual(expected.take());
      }),
      { numRuns: 500 },
    );
  });

  it("merges and splits by time as a stable sort would", () => {
    const times = fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 30 }).map((xs) => xs.sort((a, b) => a - b));
    fc.assert(
      fc.property(fc.array(times, { minLength: 1, maxLength: 3 }), fc.integer({ min: -1, max: 21 }), (lists, boundSecond) => {
        const batches = lists.map((seconds, file) =>
          RecordBatch.parse(Buffer.from(seconds.map((s, i) => `${new Date(s * 1000).toISOString()} stdout F ${file}.${i}\n`).join("")), { stream: "all", sinceNs: undefined }),
        );
        const label = (b: RecordBatch, i: number): string => b.compact(i, i + 1, false, true, Infinity).toString().trim();
        const expected = lists.flatMap((seconds, file) => seconds.map((s, i) => ({ s, file, i }))).sort((a, b) => a.s - b.s || a.file - b.file || a.i - b.i);
        const merged = mergeSlices(batches.map((batch) => wholeBatches([batch])));
        const [early, late] = splitAtTime(merged, BigInt(boundSecond) * 1_000_000_000n);
        const labels = (slices: typeof merged): string[] => slices.flatMap((sl) => Array.from({ length: sl.to - sl.from }, (_, k) => label(sl.batch, sl.from + k)));
        expect(labels(early)).toEqual(expected.filter((e) => e.s <= boundSecond).map((e) => `${e.file}.${e.i}`));
        expect(labels(late)).toEqual(expected.filter((e) => e.s > boundSecond).map((e) => `${e.file}.${e.i}`));
      }),
      { numRuns: 300 },
    );
  });
});

describe("followLogs of a finished task, and streamLogs", () => {
  let task: TaskDir;
  beforeEach(async () => {
    task = await taskDir();
  });
  afterEach(async () => {
    await task.remove();
  });

  it("yield what readLogs returns, for any query over both files", async () => {
    const record = fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.constantFrom("F", "P"), text);
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 30 }), fc.array(record, { maxLength: 30 }), query, fc.boolean(), async (out, err, raw, reuseBuffers) => {
        const write = (records: typeof out, stream: string): Buffer => {
          const sorted = [...records].sort((a, b) => a[0] - b[0]);
          return Buffer.from(sorted.map(([ms, tag, x]) => `${new Date(Date.UTC(2024, 4, 1, 23, 59, 50) + ms).toISOString()} ${stream} ${tag} ${x}\n`).join(""));
        };
        await task.write("stdout.log", write(out, "stdout"));
        await task.write("stderr.log", write(err, "stderr"));
        const files = [task.stdout, task.stderr];
        const q = clean(raw);
        const read = await readLogs(files, q);
        expect(await collect(followLogs(files, q, { isFinished: () => true, reuseBuffers }))).toEqual(read);
        expect(await collect(streamLogs(files, q, { reuseBuffers }))).toEqual(read);
      }),
      { numRuns: 150 },
    );
  });
});
