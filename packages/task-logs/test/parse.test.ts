import { describe, expect, it } from "vitest";
import { parseLogLine, parseTimestamp } from "../src/index.js";

const T = "2024-05-01T10:00:00.123456789Z";

describe("parseLogLine", () => {
  it.each([
    ["full line", `${T} stdout F hello world`, "stdout", false, "hello world"],
    ["partial line", `${T} stderr P part`, "stderr", true, "part"],
    ["trailing newline is not text", `${T} stdout F x\n`, "stdout", false, "x"],
    ["empty text", `${T} stdout F `, "stdout", false, ""],
    ["empty text without the space", `${T} stdout F`, "stdout", false, ""],
    ["tag with more parts", `${T} stdout F:x y`, "stdout", false, "y"],
    ["text keeps its spaces", `${T} stdout F  a  b `, "stdout", false, " a  b "],
  ])("%s", (_name, text, stream, partial, body) => {
    const record = parseLogLine(Buffer.from(text));
    expect(record).toMatchObject({ time: T, stream, partial });
    expect(record?.text.toString()).toBe(body);
    expect(record?.timeNs).toBe(parseTimestamp(T));
  });

  it("keeps binary bytes as they are", () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0d, 0x20, 0x80]);
    const record = parseLogLine(Buffer.concat([Buffer.from(`${T} stdout P `), bytes]));
    expect(record?.text.equals(bytes)).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["no fields", "hello"],
    ["no stream", `${T}`],
    ["no tag", `${T} stdout`],
    ["unknown stream", `${T} stdin F x`],
    ["unknown tag", `${T} stdout X x`],
    ["tag too long", `${T} stdout FF x`],
    ["bad time", `yesterday stdout F x`],
    ["impossible date", `2024-02-30T10:00:00Z stdout F x`],
    ["hour out of range", `2024-02-01T24:00:00Z stdout F x`],
    ["time without zone", `2024-05-01T10:00:00 stdout F x`],
    ["leading space", ` ${T} stdout F x`],
    ["binary junk", "\u0000\u00ff\u0001 \u0002"],
  ])("skips a malformed line: %s", (_name, text) => {
    expect(parseLogLine(Buffer.from(text, "latin1"))).toBeUndefined();
  });
});

describe("parseTimestamp", () => {
  it("reads nanoseconds since the epoch", () => {
    expect(parseTimestamp("1970-01-01T00:00:01.5Z")).toBe(1_500_000_000n);
    expect(parseTimestamp("1970-01-01T00:00:00.000000001Z")).toBe(1n);
    expect(parseTimestamp("1970-01-01T00:00:00Z")).toBe(0n);
  });

  it("applies offsets", () => {
    expect(parseTimestamp("2024-05-01T12:00:00.25+02:00")).toBe(parseTimestamp("2024-05-01T10:00:00.250Z"));
    expect(parseTimestamp("2024-05-01T05:30:00-04:30")).toBe(parseTimestamp("2024-05-01T10:00:00Z"));
  });

  it("rejects what is not RFC 3339", () => {
    expect(parseTimestamp("2024-05-01 10:00:00Z")).toBeUndefined();
    expect(parseTimestamp("2024-05-01T10:00:00.1234567890Z")).toBeUndefined();
    expect(parseTimestamp("2024-05-01T10:00:00+2:00")).toBeUndefined();
  });
});
