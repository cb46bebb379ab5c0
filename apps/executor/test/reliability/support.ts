import { spawn } from "node:child_process";
import http from "node:http";
import https from "node:https";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Task } from "@org/task-core";

/** Root of the repository (for bench/results). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));

/** A small seeded generator (mulberry32), so a failing run can be repeated from its printed seed. */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/** The seed from `name` in the environment, or a fresh one. */
export function seedFrom(name: string): number {
  const given = process.env[name];
  return given !== undefined && /^\d+$/.test(given) ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}

export interface RawReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawOptions {
  method?: string;
  /** Sent as is (no normalisation of `..` or percent escapes). */
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  agent?: http.Agent | false;
  timeoutMs?: number;
  /** For https: the CA to trust. */
  ca?: string | Buffer;
  /** On a 200, resolve as soon as the status and headers arrive, then cut the connection (streams). */
  headersOnly?: boolean;
}

/** One HTTP(S) request with node's http module: the path goes out unchanged, unlike fetch. */
export function rawRequest(baseUrl: string, options: RawOptions): Promise<RawReply> {
  const base = new URL(baseUrl);
  const transport = base.protocol === "https:" ? https : http;
  const headers = { ...(options.headers ?? {}) };
  // Node sends the body of a GET or DELETE without any length header unless told: it would read as a new request.
  if (options.body !== undefined && !Object.keys(headers).some((name) => /^(content-length|transfer-encoding)$/i.test(name))) {
    headers["content-length"] = String(Buffer.byteLength(options.body));
  }
  return new Promise((resolve, reject) => {
    const request = transport.request(
      {
        method: options.method ?? "GET",
        hostname: base.hostname,
        port: base.port,
        path: options.path,
        headers,
        ...(options.agent !== undefined ? { agent: options.agent } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
      },
      (response) => {
        if (options.headersOnly && response.statusCode === 200) {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.alloc(0), json: undefined });
          request.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("aborted", () => reject(new Error(`${options.method ?? "GET"} ${options.path}: reply cut short`)));
        response.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body, json: parseJson(body) });
        });
      },
    );
    request.setTimeout(options.timeoutMs ?? 30_000, () => request.destroy(new Error(`${options.method ?? "GET"} ${options.path}: no reply in time`)));
    request.on("error", reject);
    request.end(options.body);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

/** True for the API's error shape: a JSON object with string `code` and `message`. */
export function isErrorBody(json: unknown): json is { code: string; message: string } {
  if (typeof json !== "object" || json === null) return false;
  const body = json as Record<string, unknown>;
  return typeof body.code === "string" && typeof body.message === "string";
}

export { pidAlive, shTask, terminatedOf } from "../integration/helpers.js";

/** The pid of a process that has ended (started and waited for here). */
export function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("true", { stdio: "ignore" });
    child.once("error", reject);
    child.once("exit", () => resolve(child.pid!));
  });
}

/** Runs a command and resolves with its exit code and output. */
export function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", (error) => resolve({ code: -1, output: String(error) }));
    child.once("exit", (code) => resolve({ code, output }));
  });
}

/** Every path under `dir` (relative, sorted), not descending into the directories named in `skip`. */
export async function listTree(dir: string, skip: string[] = [], prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    found.push(relative);
    if (entry.isDirectory() && !skip.includes(relative)) found.push(...(await listTree(join(dir, entry.name), skip, relative)));
  }
  return found.sort();
}

/** Latency percentiles (ms) of a list of samples. */
export function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0);
  const round = (value: number) => Math.round(value * 100) / 100;
  return { count: sorted.length, p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted[sorted.length - 1] ?? 0) };
}

/** Lines of the executor's JSON log that carry `message`. */
export function logLines(output: string[], message: string): Array<Record<string, unknown>> {
  return output.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed.message === message ? [parsed] : [];
    } catch {
      return [];
    }
  });
}
