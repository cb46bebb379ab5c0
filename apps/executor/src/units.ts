import { parseQuantity } from "@org/task-core";

export { parseDuration, parseListenAddress } from "@org/task-core";

/** Parses a byte size: a plain number of bytes or a Kubernetes quantity (`10Mi`, `1G`). `0` is allowed. */
export function parseByteSize(text: string): number | undefined {
  if (text === "0") return 0;
  const value = parseQuantity(text);
  return value === undefined ? undefined : Math.floor(value);
}

/** Parses `true`/`false`/`1`/`0`/`yes`/`no` (any case). */
export function parseBoolean(text: string): boolean | undefined {
  const lower = text.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  return undefined;
}
