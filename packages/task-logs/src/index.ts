/**
 * @org/task-logs — reads task output stored in CRI log format (`<time> <stream> <P|F> <text>` per line).
 *
 * - The shapes: {@link LogFile}, {@link LogRecord}, {@link LogQuery}, {@link FollowControl}
 * - One line: {@link parseLogLine}, {@link parseTimestamp}
 * - Reading: {@link readLogs} (stream, tail, since, timestamps, byte limit, as `kubectl logs`, into one buffer);
 *   {@link streamLogs} (the same, in bounded pieces, for logs of any size)
 * - Following: {@link followLogs} (`kubectl logs -f`, coping with rotation)
 * - Disk use: {@link logSize}
 *
 * Content is handled as bytes throughout, never decoded, so binary output round-trips unchanged.
 */
export type { LogFile, LogRecord, LogStream, LogQuery, FollowControl } from "./types.js";
export { parseLogLine, parseTimestamp } from "./parse.js";
export { readLogs, logSize } from "./read.js";
export { followLogs, streamLogs, DEFAULT_FOLLOW_POLL_MS } from "./follow.js";
