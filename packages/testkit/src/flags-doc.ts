/**
 * Checks that docs/configuration.md documents exactly the flags a binary's `--help` lists.
 *
 * The help side is commander's output: the entries of its `Options:` block (an entry starts with two spaces and a
 * dash; wrapped description lines are indented further) and the `(env: NAME)` it prints, and the names of its
 * `Commands:` block. The docs side is the Markdown tables whose first header cell is `Flag`, inside one section:
 * every `--long-name` in a row's first cell is a documented flag, and the backticked NAMEs in the `Env` column are its
 * environment variables. `--help` itself is implied everywhere and never compared.
 */
import { spawn } from "node:child_process";

/** A flag as one side knows it: its environment variables (sorted; empty when it has none). */
export type FlagTable = Map<string, string[]>;

export interface FlagComparison {
  /** In `--help`, not in the docs. */
  missingInDocs: string[];
  /** In the docs, not in `--help`. */
  missingInHelp: string[];
  /** Both sides know the flag, with different environment variables: `--flag: help [A] docs [B]`. */
  envMismatch: string[];
}

const LONG_FLAG = /--[a-z0-9][a-z0-9-]*/g;
const IMPLIED = new Set(["--help"]);

/** The lines of one block of commander's help (`Options:`, `Commands:`), up to the next unindented line. */
function helpBlock(help: string, title: string): string[] {
  const lines = help.split("\n");
  const start = lines.findIndex((line) => line.trim() === title && !line.startsWith(" "));
  if (start < 0) return [];
  const block: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === "") {
      if (block.length) break;
      continue;
    }
    if (!line.startsWith(" ")) break;
    block.push(line);
  }
  return block;
}

/** The block's entries, each with its wrapped continuation lines joined by spaces. */
function helpEntries(help: string, title: string): string[] {
  const entries: string[] = [];
  for (const line of helpBlock(help, title)) {
    if (/^ {2}\S/.test(line)) entries.push(line.trim());
    else if (entries.length) entries[entries.length - 1] += ` ${line.trim()}`;
  }
  return entries;
}

/** The long flags of a commander help text, with the environment variables it names for each. */
export function helpFlags(help: string): FlagTable {
  const flags: FlagTable = new Map();
  for (const entry of helpEntries(help, "Options:")) {
    // The flags part ends where the description starts: at the first run of two spaces.
    const [flagsPart = "", ...description] = entry.split(/ {2,}/);
    const long = flagsPart.match(LONG_FLAG)?.[0];
    if (!long || IMPLIED.has(long)) continue;
    const envs = [...description.join(" ").matchAll(/\benv: ([A-Z_][A-Z0-9_]*)/g)].map((match) => match[1]!);
    flags.set(long, [...new Set(envs)].sort());
  }
  return flags;
}

/** The subcommand names of a commander help text (aliases and `help` left out). */
export function helpCommands(help: string): string[] {
  return helpEntries(help, "Commands:")
    .map((entry) => entry.split(/[\s|]/)[0]!)
    .filter((name) => name !== "help");
}

/**
 * The text of the section that starts with the line `heading` (e.g. `## task-executor`), up to the next heading of
 * the same or a higher level; with `own`, up to the next heading of any level (its subsections left out). Lines in
 * fenced code blocks are never headings. Throws when the heading is not there.
 */
export function markdownSection(markdown: string, heading: string, options: { own?: boolean } = {}): string {
  const lines = markdown.split("\n");
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  let fenced = false;
  let start = -1;
  const section: string[] = [];
  for (const [index, line] of lines.entries()) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const headingLevel = !fenced ? /^(#+)\s/.exec(line)?.[1]!.length : undefined;
    if (start < 0) {
      if (line.trim() === heading.trim()) start = index;
      continue;
    }
    if (headingLevel !== undefined && (options.own || headingLevel <= level)) break;
    section.push(line);
  }
  if (start < 0) throw new Error(`no section "${heading}"`);
  return section.join("\n");
}

/** The cells of a Markdown table row (`\|` is a pipe inside a cell). */
function cells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, "").replace(/\|$/, "");
  return inner.split(/(?<!\\)\|/).map((cell) => cell.trim());
}

/** The flags documented in a section: rows of the tables whose first header cell is `Flag`. */
export function documentedFlags(section: string): FlagTable {
  const flags: FlagTable = new Map();
  const lines = section.split("\n");
  for (let index = 0; index < lines.length; index++) {
    if (!lines[index]!.trim().startsWith("|")) continue;
    const table: string[] = [];
    while (index < lines.length && lines[index]!.trim().startsWith("|")) table.push(lines[index++]!);
    const header = cells(table[0]!).map((cell) => cell.replaceAll("`", "").toLowerCase());
    if (header[0] !== "flag") continue;
    const envColumn = header.findIndex((cell) => cell === "env" || cell === "environment");
    for (const row of table.slice(1)) {
      if (/^\|?[\s:|-]+\|?$/.test(row.trim())) continue; // the separator row
      const rowCells = cells(row);
      const envs = envColumn >= 0 ? [...(rowCells[envColumn] ?? "").matchAll(/`([A-Z_][A-Z0-9_]*)`/g)].map((match) => match[1]!) : [];
      for (const long of rowCells[0]!.match(LONG_FLAG) ?? []) {
        if (IMPLIED.has(long)) continue;
        flags.set(long, [...new Set([...(flags.get(long) ?? []), ...envs])].sort());
      }
    }
  }
  return flags;
}

/** What differs between the flags of `--help` and the documented ones. */
export function compareFlags(help: FlagTable, docs: FlagTable): FlagComparison {
  const missingInDocs = [...help.keys()].filter((flag) => !docs.has(flag)).sort();
  const missingInHelp = [...docs.keys()].filter((flag) => !help.has(flag)).sort();
  const envMismatch: string[] = [];
  for (const [flag, envs] of help) {
    const documented = docs.get(flag);
    if (documented && documented.join(",") !== envs.join(",")) envMismatch.push(`${flag}: help [${envs.join(", ")}] docs [${documented.join(", ")}]`);
  }
  return { missingInDocs, missingInHelp, envMismatch: envMismatch.sort() };
}

/** Runs `node bin ...args` and answers its stdout; rejects unless it exits 0 within the time given. */
export function runHelp(bin: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, COLUMNS: "80" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${bin} ${args.join(" ")} exited ${code ?? signal}\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}
