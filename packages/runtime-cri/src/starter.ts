/**
 * Talks to the runtime's `start-helper.js` (see there for why StartContainer is sent from a process of its own):
 * spawned on the first start, kept for the next ones, spawned again if it died.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

/** dist/start-helper.js; src/ and dist/ sit at the same depth, so this also holds when the sources run (tests). */
export const START_HELPER = fileURLToPath(new URL("../dist/start-helper.js", import.meta.url));

export interface StartAnswer {
  ok: boolean;
  /** The gRPC status the CRI runtime answered with; absent when there was no answer. */
  code?: number;
  message?: string;
}

type Helper = ChildProcessByStdio<Writable, Readable, Readable>;

export class Starter {
  private helper: Helper | undefined;
  /** Starts in flight by request id, with the helper that has them. */
  private readonly pending = new Map<number, { helper: Helper; resolve: (answer: StartAnswer) => void }>();
  private nextId = 1;
  /** Helper processes spawned so far (for tests). */
  spawned = 0;

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs: number,
  ) {}

  /** The helper's pid, while one runs. */
  get pid(): number | undefined {
    return this.helper?.pid;
  }

  /**
   * Has the helper send StartContainer and resolves with its answer; never rejects. A helper that dies first
   * answers `ok: false` without a code, as a runtime that could not be reached: the caller then goes by the
   * container's status.
   */
  start(containerId: string): Promise<StartAnswer> {
    let helper: Helper;
    try {
      helper = this.running();
    } catch (error) {
      return Promise.resolve({ ok: false, message: `cannot run the start helper ${START_HELPER}: ${(error as Error).message}` });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { helper, resolve });
      this.hold(helper, true);
      helper.stdin.write(`${JSON.stringify({ id, containerId })}\n`);
    });
  }

  /** Ends the helper's input: it finishes the starts in flight, then exits. */
  close(): void {
    this.helper?.stdin.end();
    this.helper = undefined;
  }

  private running(): Helper {
    if (this.helper) return this.helper;
    // Detached: its own session and process group, so neither the executor's death nor a signal to the
    // executor's group ends it.
    const helper = spawn(process.execPath, [START_HELPER, this.socketPath, String(this.timeoutMs)], { detached: true, stdio: ["pipe", "pipe", "pipe"] });
    this.spawned++;
    this.helper = helper;
    let stderr = "";
    helper.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
    helper.stdin.on("error", () => undefined); // a dead helper: reported by "close" below
    createInterface({ input: helper.stdout, crlfDelay: Infinity }).on("line", (line) => this.answer(helper, line));
    const ended = (why: string) => {
      if (this.helper === helper) this.helper = undefined;
      this.failAll(helper, `the start helper (pid ${helper.pid}) ${why} before it answered${stderr.trim() ? `: ${stderr.trim()}` : ""}`);
    };
    helper.on("error", (error) => ended(`could not run (${error.message})`));
    helper.on("close", (code, signal) => ended(`ended (${signal ?? `exit code ${code}`})`));
    this.hold(helper, false);
    return helper;
  }

  private answer(helper: Helper, line: string): void {
    let reply: { id?: number; ok?: boolean; error?: { code?: number; message?: string } };
    try {
      reply = JSON.parse(line) as typeof reply;
    } catch {
      return;
    }
    const entry = reply.id === undefined ? undefined : this.pending.get(reply.id);
    if (!entry || entry.helper !== helper) return;
    this.pending.delete(reply.id!);
    if (![...this.pending.values()].some((other) => other.helper === helper)) this.hold(helper, false);
    const { code, message } = reply.error ?? {};
    entry.resolve(reply.ok ? { ok: true } : { ok: false, ...(code === undefined ? {} : { code }), message: message ?? "the start helper gave no reason" });
  }

  /** Answers every start in flight in a helper that is gone. */
  private failAll(helper: Helper, message: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.helper !== helper) continue;
      this.pending.delete(id);
      entry.resolve({ ok: false, message });
    }
  }

  /** An idle helper does not keep the executor's process alive; one with starts in flight does. */
  private hold(helper: Helper, on: boolean): void {
    for (const handle of [helper, helper.stdin, helper.stdout, helper.stderr] as { ref(): void; unref(): void }[]) {
      if (on) handle.ref();
      else handle.unref();
    }
  }
}
