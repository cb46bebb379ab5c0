/**
 * A copy of `text` in one piece. `JSON.stringify` and concatenation build strings out of parts (V8's cons
 * strings, a tree of objects); a string kept for the lifetime of a task is copied into one, so the collector
 * marks one object for it instead of the tree (with 10 000 tasks kept, a few fewer objects each is a cheaper
 * full collection). Exact for any well-formed string, which JSON always is.
 */
export function flatString(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}
