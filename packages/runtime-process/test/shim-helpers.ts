// Test harness for the task-shim binary: builds it when stale, drives `task-shim launcher` through its
// netstring protocol and reads back the files a keeper writes into a task directory.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PKG_DIR = fileURLToPath(new URL('..', import.meta.url));
export const SHIM = join(PKG_DIR, 'dist', 'task-shim');
const SHIM_SRC = join(PKG_DIR, 'shim', 'task-shim.c');

export const TASK_PATH = 'PATH=/usr/local/bin:/usr/bin:/bin';

/** Compiles dist/task-shim when it is missing or older than its source. Test files run in parallel
 * workers, so each compiles to its own name and renames into place. */
export function ensureShimBuilt(): void {
  buildShim(SHIM, []);
}

/**
 * A test build of the shim whose keeper blocks before it writes its pid file until the FIFO `start-gate` in the
 * task directory is opened for reading: a keeper stuck in its file system, on demand.
 */
export const GATED_SHIM = join(PKG_DIR, 'test-results', 'gated', 'task-shim');

export function ensureGatedShimBuilt(): void {
  buildShim(GATED_SHIM, ['-DSHIM_TEST_START_GATE']);
}

function buildShim(path: string, defines: string[]): void {
  if (existsSync(path) && statSync(path).mtimeMs >= statSync(SHIM_SRC).mtimeMs) return;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  execFileSync('cc', ['-O2', '-Wall', '-Wextra', ...defines, '-o', tmp, SHIM_SRC], { stdio: 'inherit' });
  renameSync(tmp, path);
}

export function netstrings(fields: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const b = typeof f === 'string' ? Buffer.from(f) : f;
    parts.push(Buffer.from(`${b.length}:`), b, Buffer.from(','));
  }
  return Buffer.concat(parts);
}

export interface StartSpec {
  argv: ReadonlyArray<string | Buffer>;
  runId?: string;
  taskDir?: string;
  workingDir?: string;
  timeoutMs?: number;
  graceMs?: number;
  maxLogBytes?: number;
  env?: ReadonlyArray<string>;
  cgroups?: ReadonlyArray<string>;
}

export interface ExitFile {
  runId: string;
  exitCode: number;
  signal: number | null;
  timedOut: boolean;
  startError: string | null;
  startedAt: string;
  finishedAt: string;
}

export interface PidFile {
  runId: string;
  keeperPid: number;
  pid: number;
  startedAt: string;
}

let runCounter = 0;

export function newRunId(): string {
  runCounter += 1;
  return `run-${process.pid}-${runCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function newTaskDir(): string {
  return mkdtempSync(join(tmpdir(), 'shim-task-'));
}

export function startRequest(spec: StartSpec & { runId: string; taskDir: string }): Buffer {
  const env = spec.env ?? [TASK_PATH];
  const cgroups = spec.cgroups ?? [];
  return netstrings([
    'START',
    spec.runId,
    spec.taskDir,
    spec.workingDir ?? '',
    String(spec.timeoutMs ?? 0),
    String(spec.graceMs ?? 1000),
    String(spec.maxLogBytes ?? 0),
    String(spec.argv.length),
    ...spec.argv,
    String(env.length),
    ...env,
    String(cgroups.length),
    ...cgroups,
  ]);
}

export interface Started {
  runId: string;
  taskDir: string;
}

export interface RunResult extends Started {
  exit: ExitFile;
  keeperPid: number;
  taskPid: number;
}

/** One `task-shim launcher` process and the event lines it (and its keepers) printed. */
export class Launcher {
  readonly events: string[] = [];
  /** What the launcher and its keepers wrote to stderr (also passed on to the test's stderr). */
  readonly errors: string[] = [];
  private readonly listeners = new Set<() => void>();
  readonly exited: Promise<number | null>;

  private constructor(readonly proc: ChildProcessWithoutNullStreams) {
    let rest = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      rest += chunk;
      let nl: number;
      while ((nl = rest.indexOf('\n')) >= 0) {
        this.events.push(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
      for (const l of [...this.listeners]) l();
    });
    proc.stdout.on('error', () => {});
    proc.stdin.on('error', () => {});
    // 'exit', not 'close': keepers keep the stdout pipe open after the launcher is gone.
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  /** `wrap`: a command the launcher runs under (e.g. strace and its options). */
  static async start(opts: { env?: NodeJS.ProcessEnv; detached?: boolean; wrap?: string[] } = {}): Promise<Launcher> {
    const [command, ...args] = [...(opts.wrap ?? []), SHIM, 'launcher'];
    const proc = spawn(command!, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      detached: opts.detached ?? false,
    });
    const launcher = new Launcher(proc);
    proc.stderr.on('data', (d: Buffer) => {
      launcher.errors.push(d.toString());
      process.stderr.write(d);
    });
    const ready = await launcher.waitFor((l) => l.startsWith('READY '));
    if (ready !== 'READY 1') throw new Error(`unexpected first line ${ready}`);
    return launcher;
  }

  /** Resolves with the first event line (already seen or future) matching `pred`. */
  waitFor(pred: (line: string) => boolean, timeoutMs = 20000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.events.find(pred);
        if (hit === undefined) return false;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve(hit);
        return true;
      };
      const listener = (): void => void check();
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`no matching event within ${timeoutMs} ms; events: ${this.events.join(' | ')}`));
      }, timeoutMs);
      this.listeners.add(listener);
      check();
    });
  }

  /** The event line `<VERB> <runId> ...` as words. */
  async event(verb: string, runId: string, timeoutMs?: number): Promise<string[]> {
    const line = await this.waitFor((l) => l.startsWith(`${verb} ${runId} `) || l === `${verb} ${runId}`, timeoutMs);
    return line.split(' ');
  }

  /** The first of EXITED / FAILED / SUPERSEDED for a run. */
  async outcome(runId: string, timeoutMs?: number): Promise<string[]> {
    const line = await this.waitFor(
      (l) => ['EXITED', 'FAILED', 'SUPERSEDED'].some((v) => l.startsWith(`${v} ${runId}`)),
      timeoutMs,
    );
    return line.split(' ');
  }

  send(spec: StartSpec): Started {
    const runId = spec.runId ?? newRunId();
    const taskDir = spec.taskDir ?? newTaskDir();
    this.proc.stdin.write(startRequest({ ...spec, runId, taskDir }));
    return { runId, taskDir };
  }

  async started(runId: string): Promise<{ keeperPid: number; taskPid: number }> {
    const words = await this.event('STARTED', runId);
    return { keeperPid: Number(words[2]), taskPid: Number(words[3]) };
  }

  /** Starts a task and waits for its EXITED event; returns the exit record. */
  async run(spec: StartSpec, timeoutMs?: number): Promise<RunResult> {
    const s = this.send(spec);
    const { keeperPid, taskPid } = await this.started(s.runId);
    const outcome = await this.outcome(s.runId, timeoutMs);
    if (outcome[0] !== 'EXITED') throw new Error(`run ended with ${outcome.join(' ')}`);
    return { ...s, keeperPid, taskPid, exit: readExit(s.taskDir) };
  }

  async close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.stdin.end();
    await this.exited;
    this.proc.stdout.destroy();
    this.proc.stderr.destroy();
  }
}

/** The pid file's lines: the pid record, then (once the task ended) the exit record; each ends with `\n`. */
function pidFileLines(taskDir: string): string[] {
  const text = readFileSync(join(taskDir, 'pid'), 'utf8');
  return text.endsWith('\n') ? text.slice(0, -1).split('\n') : [...text.split('\n').slice(0, -1), ''];
}

/** The exit record the keeper appended to the pid file (throws if there is none yet). */
export function readExit(taskDir: string): ExitFile {
  const [, exit] = pidFileLines(taskDir);
  if (!exit) throw new Error(`no exit record in ${taskDir}/pid yet`);
  return JSON.parse(exit) as ExitFile;
}

export function hasExitRecord(taskDir: string): boolean {
  return existsSync(join(taskDir, 'pid')) && Boolean(pidFileLines(taskDir)[1]);
}

export function readPid(taskDir: string): PidFile {
  return JSON.parse(pidFileLines(taskDir)[0]!) as PidFile;
}

export interface LogRecord {
  time: string;
  stream: string;
  tag: string;
  text: Buffer;
}

/** Parses one CRI log file; record texts are raw bytes. */
export function parseLog(data: Buffer): LogRecord[] {
  const records: LogRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) throw new Error('log file does not end with a newline');
    const line = data.subarray(pos, nl);
    const s1 = line.indexOf(0x20);
    const s2 = line.indexOf(0x20, s1 + 1);
    const s3 = line.indexOf(0x20, s2 + 1);
    if (s1 < 0 || s2 < 0 || s3 < 0) throw new Error(`bad record ${line.toString()}`);
    records.push({
      time: line.subarray(0, s1).toString(),
      stream: line.subarray(s1 + 1, s2).toString(),
      tag: line.subarray(s2 + 1, s3).toString(),
      text: Buffer.from(line.subarray(s3 + 1)),
    });
    pos = nl + 1;
  }
  return records;
}

/** Records of one stream, the rotated `.1` file first. */
export function readRecords(taskDir: string, stream: 'stdout' | 'stderr'): LogRecord[] {
  const out: LogRecord[] = [];
  for (const name of [`${stream}.log.1`, `${stream}.log`]) {
    const p = join(taskDir, name);
    if (existsSync(p)) for (const record of parseLog(readFileSync(p))) out.push(record);
  }
  return out;
}

/** The output bytes the records stand for: texts joined, a newline after each F record. */
export function reconstruct(records: ReadonlyArray<LogRecord>): Buffer {
  return Buffer.concat(records.flatMap((r) => (r.tag === 'F' ? [r.text, Buffer.from('\n')] : [r.text])));
}

export function streamText(taskDir: string, stream: 'stdout' | 'stderr'): string {
  return reconstruct(readRecords(taskDir, stream)).toString();
}

interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, state: f[0] ?? '?', ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]) };
}

export function statOf(pid: number): ProcStat | null {
  return procStat(pid);
}

/** Alive = exists and is not a zombie (a reparented zombie may linger if init is slow to reap). */
export function isAlive(pid: number): boolean {
  const s = procStat(pid);
  return s !== null && s.state !== 'Z';
}

export function allProcs(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = procStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** Living members of a process group. */
export function groupMembers(pgid: number): number[] {
  return allProcs()
    .filter((p) => p.pgrp === pgid && p.state !== 'Z')
    .map((p) => p.pid);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/;
export const RFC3339_MILLI = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
