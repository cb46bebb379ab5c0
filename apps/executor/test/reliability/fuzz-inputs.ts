import { gzipSync } from "node:zlib";
import fc from "fast-check";

/**
 * Generators of hostile API input for the fuzz suite: malformed and oversized bodies, wrong types, deep nesting,
 * unicode and control characters, path tricks in names and URL paths, and query junk. Any task a generator
 * produces that the executor could accept runs `true` and nothing else (see {@link defang}).
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface FuzzBody {
  label: string;
  body: Buffer | undefined;
  headers: Record<string, string>;
}

/** Every non-empty string array under a `command` key becomes ["true"]; everything else is kept. */
export function defang(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(defang);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const harmless = key === "command" && Array.isArray(item) && item.length > 0 && item.every((part) => typeof part === "string") ? ["true"] : defang(item);
    // defineProperty, so that a `__proto__` key stays an own key and reaches the executor as sent.
    Object.defineProperty(out, key, { value: harmless, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const char = (from: number, to: number, except = "") =>
  fc.integer({ min: from, max: to }).map((code) => String.fromCharCode(code)).filter((c) => !except.includes(c));
/** Characters node's HTTP client sends unchanged in a request line. */
const urlChars = (except: string, maxLength: number) => fc.string({ unit: char(0x21, 0x7e, except), maxLength });
/** Characters allowed in a header value. */
export const headerText = fc.string({ unit: char(0x20, 0x7e), maxLength: 40 });

const PATH_TRICKS = [
  "",
  ".",
  "..",
  "../x",
  "..%2fx",
  "a/b",
  "/abs",
  "a\\b",
  "x\u0000y",
  "a".repeat(253),
  "a".repeat(254),
  "a".repeat(5000),
  "-a",
  "a-",
  ".hidden",
  "ａｂｃ",
  "e\u0301",
  "\u202egnp.exe",
  "\r\n",
  "a b",
  "%2e%2e",
  "%00",
  "\ud800",
];

export const nameArb = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([a-z0-9._-]{0,30}[a-z0-9])?$/),
  fc.constantFrom(...PATH_TRICKS),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
);

const protoPollution = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}') as unknown;

export const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, -1, 0, 1.5, 1e308, -1e308, "", "\u0000", " ", [], {}, [[]], [null], protoPollution),
  fc.string({ unit: "binary", maxLength: 30 }),
);

const processArb = fc.record(
  {
    command: fc.oneof(fc.constant(["true"]), junk),
    args: fc.oneof(fc.array(fc.string({ unit: "binary", maxLength: 20 }), { maxLength: 5 }), junk),
    env: fc.oneof(fc.array(fc.record({ name: fc.oneof(fc.string({ maxLength: 10 }), junk), value: fc.oneof(fc.string({ unit: "binary", maxLength: 20 }), junk) }), { maxLength: 4 }), junk),
    workingDir: fc.oneof(fc.constantFrom("/", "/tmp", "relative", "/nonexistent/dir", "/proc/self", "/../../etc", "/tmp/\u0000"), junk),
    timeoutSeconds: fc.oneof(fc.integer({ min: 0, max: 5 }), junk),
    resources: fc.oneof(
      fc.record({
        limits: fc.dictionary(fc.constantFrom("memory", "cpu", "pids", "ephemeral-storage", "bogus"), fc.oneof(fc.constantFrom("64Mi", "100m", "10", "0", "-1", "1e9", "abc", "99999999999999Ei"), junk), { maxKeys: 3 }),
      }),
      junk,
    ),
  },
  { requiredKeys: [] },
);

export const taskArb: fc.Arbitrary<unknown> = fc
  .record(
    {
      name: fc.oneof(nameArb, junk),
      labels: fc.oneof(fc.dictionary(fc.string({ maxLength: 70 }), fc.oneof(fc.string({ maxLength: 70 }), junk), { maxKeys: 4 }), junk),
      spec: fc.oneof(fc.record({ process: fc.oneof(processArb, junk), container: junk }, { requiredKeys: [] }), junk),
      process: processArb,
      status: junk,
      extra: junk,
    },
    { requiredKeys: [] },
  )
  .map(defang);

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "application/json; charset=utf-16",
  "application/json; charset=latin1",
  "application/json; charset=\"",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "*/*",
  "",
];
const ENCODINGS = ["identity", "gzip", "deflate", "br", "x-junk", "gzip, gzip"];

export const headersArb: fc.Arbitrary<Record<string, string>> = fc
  .record(
    {
      "content-type": fc.oneof(fc.constantFrom(...CONTENT_TYPES), headerText),
      "content-encoding": fc.constantFrom(...ENCODINGS),
      accept: fc.oneof(fc.constantFrom("application/json", "text/event-stream", "*/*"), headerText),
      "last-event-id": headerText,
      "x-junk": headerText,
    },
    { requiredKeys: [] },
  )
  .map((headers) => Object.fromEntries(Object.entries(headers).filter(([name, value]) => name !== "content-encoding" || value !== "")));

const text = (label: string, value: string | Buffer): FuzzBody => ({ label, body: Buffer.from(value), headers: { "content-type": "application/json" } });

function nest(open: string, depth: number): string {
  return open === "[" ? "[".repeat(depth) + "]".repeat(depth) : open.repeat(depth) + "1" + "}".repeat(depth);
}

/** About 10 MiB of zeros in a few KiB of gzip: inflates past the body limit. */
const GZIP_BOMB = gzipSync(Buffer.alloc(10 * 1024 * 1024));

export const bodyArb: fc.Arbitrary<FuzzBody> = fc.oneof(
  { weight: 5, arbitrary: taskArb.map((value) => text("task-like", JSON.stringify(value) ?? "null")) },
  { weight: 2, arbitrary: fc.array(taskArb, { maxLength: 5 }).map((value) => text("task array", JSON.stringify(value))) },
  { weight: 2, arbitrary: fc.jsonValue().map((value) => text("json", JSON.stringify(defang(value)) ?? "null")) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((value) => text("text", value)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => text("bytes", Buffer.from(bytes))) },
  {
    weight: 1,
    arbitrary: taskArb.chain((value) => {
      const whole = JSON.stringify(value) ?? "";
      return fc.nat({ max: whole.length }).map((cut) => text("truncated", whole.slice(0, cut)));
    }),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(100, 1000, 10_000), fc.constantFrom("[", '{"a":')).map(([depth, open]) => text(`nested ${depth}`, nest(open, depth))) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 40_000 }).map((count) => text(`array of ${count}`, `[${"1,".repeat(count)}1]`)) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_REQUEST_BYTES + 1, max: 4 * MAX_REQUEST_BYTES }).map((size) => text(`oversized ${size}`, `"${"x".repeat(size)}"`)) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constant<FuzzBody>({ label: "gzip bomb", body: GZIP_BOMB, headers: { "content-type": "application/json", "content-encoding": "gzip" } }),
      fc.uint8Array({ maxLength: 100 }).map((bytes): FuzzBody => ({ label: "bad gzip", body: Buffer.from(bytes), headers: { "content-encoding": "gzip" } })),
    ),
  },
  { weight: 1, arbitrary: fc.constant<FuzzBody>({ label: "no body", body: undefined, headers: {} }) },
);

/** A task name as it appears in a URL path: encoded names, raw tricks and percent-encoding junk. */
export const segmentArb = fc.oneof(
  nameArb.map((name) => encodeURIComponent(name.replace(/[\ud800-\udfff]/g, "x"))),
  fc.constantFrom(
    "..",
    "%2e%2e",
    "..%2f",
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e",
    "%00",
    "a%00b",
    "%c0%ae%c0%ae",
    "%zz",
    "%",
    "%%",
    "%e0%80%ae",
    "%ff%fe",
    ".",
    "%2e",
    "a%2fb",
    "a%5cb",
    "a".repeat(10_000),
    "%41".repeat(3000),
  ),
  urlChars("/?", 30).filter((segment) => segment.length > 0),
);

const QUERY_KEYS = ["waitFor", "timeoutSeconds", "stream", "tailLines", "limitBytes", "sinceSeconds", "sinceTime", "timestamps", "follow", "since", "__proto__", "constructor", "a[b]", "since[]", "follow[x]"];
const QUERY_VALUES = ["", "0", "-1", "1.5", "1e309", "999999999999999999999", "1000000000000", "true", "false", "1", "all", "stdout", "terminated", "2024-01-01T00:00:00Z", "not-a-date", "%00", "%zz", "NaN", "0x10", "+1"];

export const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...QUERY_KEYS), urlChars("&=#", 12)),
      fc.oneof(fc.constantFrom(...QUERY_VALUES), fc.nat().map(String), urlChars("&#", 20)),
    ),
    { maxLength: 6 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([key, value]) => `${key}=${value}`).join("&")}` : ""));

export const methodArb = fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND", "TRACE", "PURGE");

export const pathArb = fc.oneof(
  fc.constantFrom("/health", "/metrics", "/getTasks", "/setTasks", "/events", "/tasks", "/tasks/known", "/tasks/known/stop", "/tasks/known/logs"),
  fc.constantFrom("//tasks", "/tasks/", "/TASKS", "/tasks/a/b/c", "/%2e%2e/%2e%2e/etc/passwd", "/tasks/../health", "/./health", "/tasks/known/logs/..", "/tasks%2fknown", "/"),
  segmentArb.map((segment) => `/tasks/${segment}`),
  urlChars("?", 40).map((rest) => `/${rest}`),
);
