import { parseDuration as parseDurationText } from "@org/task-core";
import { UsageError } from "./errors.js";

/** Parses `30s`, `5m`, `1m30s`, `2h`, `500ms`, `1d`; a plain number is seconds. Returns milliseconds. */
export function parseDuration(text: string, what = "duration"): number {
  const ms = parseDurationText(text.trim());
  if (ms === undefined) throw new UsageError(`invalid ${what} '${text}': use e.g. 30s, 5m, 1h30m or a number of seconds`);
  return ms;
}

/** A duration as a whole number of seconds, rounded up (a timeout never gets shorter). */
export function parseSeconds(text: string, what = "duration"): number {
  return Math.ceil(parseDuration(text, what) / 1000);
}

/** A short human duration as kubectl prints ages: `45s`, `3m12s`, `25m`, `5h3m`, `20h`, `3d4h`, `40d`, `2y`. */
export function humanDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (seconds < 120) return `${seconds}s`;
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (days < 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 730) return `${days}d`;
  return `${Math.floor(days / 365)}y`;
}

/** The time between two RFC 3339 stamps (or until now), or undefined without a start. */
export function between(start: string | undefined, end: string | undefined, now = Date.now()): number | undefined {
  if (!start) return undefined;
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now;
  return Number.isNaN(from) || Number.isNaN(to) ? undefined : to - from;
}
