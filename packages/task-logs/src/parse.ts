import type { LogRecord, LogStream } from "./types.js";

// The bytes of the CRI log format, shared with the column parser (batch.ts).
export const NEWLINE = 0x0a;
export const SPACE = 0x20;
export const COLON = 0x3a;
export const TAG_PARTIAL = 0x50; // "P"
export const TAG_FULL = 0x46; // "F"

/** Longer first fields cannot be a time; stops a scan of binary junk early. */
export const MAX_TIME_LENGTH = 64;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

const NS_PER_MS = 1_000_000n;

/**
 * Parses an RFC 3339 time with up to nanosecond precision and a `Z` or `±hh:mm` offset into nanoseconds
 * since the Unix epoch. Returns undefined for anything else (including impossible dates such as Feb 30).
 */
export function parseTimestamp(text: string): bigint | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const fraction = match[7] ?? "";
  // Consecutive records mostly share their second: reuse its conversion.
  const secondKey = fraction === "" ? text : text.slice(0, 19) + text.slice(20 + fraction.length);
  if (secondKey !== lastSecondKey) {
    const secondNs = secondToNs(match);
    if (secondNs === undefined) return undefined;
    lastSecondKey = secondKey;
    lastSecondNs = secondNs;
  }
  return fraction === "" ? lastSecondNs : lastSecondNs + BigInt(fraction.padEnd(9, "0"));
}

let lastSecondKey = "";
let lastSecondNs = 0n;

/** The whole second of a matched time, offset applied, in nanoseconds since the epoch. */
function secondToNs(match: RegExpExecArray): bigint | undefined {
  const [, y, mo, d, h, mi, s, , sign, oh = "0", om = "0"] = match;
  const month = Number(mo) - 1;
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (hour > 23 || minute > 59 || second > 59 || Number(oh) > 23 || Number(om) > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), month, day);
  if (date.getUTCMonth() !== month || date.getUTCDate() !== day) return undefined;
  date.setUTCHours(hour, minute, second, 0);
  const offsetMs = sign === undefined ? 0 : (sign === "-" ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return BigInt(date.getTime() - offsetMs) * NS_PER_MS;
}

/** Nanoseconds since the Unix epoch of a Date (millisecond precision). */
export function dateToNs(date: Date): bigint {
  return BigInt(date.getTime()) * NS_PER_MS;
}

function streamAt(line: Buffer, start: number, end: number): LogStream | undefined {
  if (end - start !== 6) return undefined;
  const name = line.toString("latin1", start, end);
  return name === "stdout" || name === "stderr" ? name : undefined;
}

/**
 * Parses one CRI log line, `<time> <stdout|stderr> <P|F> <text>`, with or without its final `\n`.
 * The tag may carry more `:`-separated parts (`F:x`, kept for forward compatibility); a line that ends right
 * after the tag is a record with empty text. Malformed lines give undefined; this never throws.
 * The text is a view into `line`, never decoded.
 */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  let end = line.length;
  if (end > 0 && line[end - 1] === NEWLINE) end--;

  const timeEnd = line.indexOf(SPACE);
  if (timeEnd <= 0 || timeEnd > MAX_TIME_LENGTH || timeEnd >= end) return undefined;
  const time = line.toString("latin1", 0, timeEnd);
  const timeNs = parseTimestamp(time);
  if (timeNs === undefined) return undefined;

  const streamEnd = line.indexOf(SPACE, timeEnd + 1);
  if (streamEnd < 0 || streamEnd >= end) return undefined;
  const stream = streamAt(line, timeEnd + 1, streamEnd);
  if (stream === undefined) return undefined;

  const tagStart = streamEnd + 1;
  let tagEnd = line.indexOf(SPACE, tagStart);
  if (tagEnd < 0 || tagEnd > end) tagEnd = end;
  const tag = line[tagStart];
  if (tagEnd === tagStart || (tag !== TAG_PARTIAL && tag !== TAG_FULL)) return undefined;
  if (tagEnd > tagStart + 1 && line[tagStart + 1] !== COLON) return undefined;

  const text = tagEnd < end ? line.subarray(tagEnd + 1, end) : line.subarray(end, end);
  return { time, timeNs, stream, partial: tag === TAG_PARTIAL, text };
}
