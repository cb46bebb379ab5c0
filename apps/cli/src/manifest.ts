import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from "yaml";
import type { z } from "zod";
import { CliError } from "./errors.js";

/** One entry of an applied file, with what it takes to name it in an error. */
export interface ManifestItem {
  file: string;
  /** Position in the file's list, from 0. */
  index: number;
  value: unknown;
  /** The 1-based line of a field of this item (or of the item itself). */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

function nameOf(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as { name?: unknown; metadata?: { name?: unknown } };
  const name = record.metadata?.name ?? record.name;
  return typeof name === "string" ? name : undefined;
}

/** `FILE:LINE: item N (NAME): FIELD: MESSAGE` */
export function itemError(item: ManifestItem, path: readonly PropertyKey[], message: string): CliError {
  const line = item.lineOf(path);
  const name = nameOf(item.value);
  const field = path.length > 0 ? `${formatPath(path)}: ` : "";
  return new CliError(`${item.file}${line ? `:${line}` : ""}: item ${item.index}${name ? ` (${name})` : ""}: ${field}${message}`);
}

/** Parses a value with a zod schema, throwing the first issue as an item error. */
export function parseItem<T>(item: ManifestItem, schema: z.ZodType<T>, value: unknown = item.value): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw itemError(item, issue.path, issue.message);
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === "number" ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)), "");
}

/** Reads a file (`-` for stdin) and splits it into items: a list, a Kubernetes `List`, one object, or several documents. */
export async function readManifest(file: string): Promise<ManifestItem[]> {
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`);
  }
  return parseManifest(text, file === "-" ? "<stdin>" : file);
}

/** The items of a YAML or JSON text; syntax errors name the file, line and column. */
export function parseManifest(text: string, file: string): ManifestItem[] {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  if (!Array.isArray(documents)) return [];
  const items: ManifestItem[] = [];
  for (const document of documents) {
    const error = document.errors[0];
    if (error) {
      const at = lines.linePos(error.pos[0]);
      throw new CliError(`${file}:${at.line}:${at.col}: ${error.message.split("\n")[0]}`);
    }
    const contents = document.contents;
    if (contents === null) continue;
    const value: unknown = document.toJS();
    const lineOfNode = (node: unknown) => (node && typeof node === "object" && "range" in node && Array.isArray((node as Node).range) ? lines.linePos((node as Node).range![0]).line : undefined);
    const add = (itemValue: unknown, node: unknown) => {
      const index = items.length;
      items.push({
        file,
        index,
        value: itemValue,
        lineOf(path) {
          let current: unknown = node;
          let line = lineOfNode(node);
          for (const key of path) {
            if (isMap(current)) {
              const pair = current.items.find((entry) => isScalar(entry.key) && entry.key.value === key);
              if (!pair) break;
              line = lineOfNode(pair.key) ?? line;
              current = pair.value;
            } else if (isSeq(current) && typeof key === "number" && current.items[key] !== undefined) {
              current = current.items[key];
              line = lineOfNode(current) ?? line;
            } else break;
          }
          return line;
        },
      });
    };
    if (isSeq(contents)) contents.items.forEach((node, index) => add((value as unknown[])[index], node));
    else if (isMap(contents) && Array.isArray((value as { items?: unknown }).items) && (value as { kind?: unknown }).kind !== undefined) {
      const seq = contents.get("items", true);
      ((value as { items: unknown[] }).items).forEach((itemValue, index) => add(itemValue, isSeq(seq) ? seq.items[index] : contents));
    } else add(value, contents);
  }
  return items;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
