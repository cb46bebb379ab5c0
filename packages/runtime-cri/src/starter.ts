/**
 * Runs `start-helper.js` (see there for why StartContainer is sent from a process of its own) and reads its answer.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** dist/start-helper.js; src/ and dist/ sit at the same depth, so this also holds when the sources run (tests). */
export const START_HELPER = fileURLToPath(new URL("../dist/start-helper.js", import.meta.url));

export interface StartAnswer {
  ok: boolean;
  /** The gRPC status the CRI runtime answered with; absent when there was no answer. */
  code?: number;
  message?: string;
}

/** Helpers running at once (each is a node process of about 45 MiB for a fraction of a second). */
export const MAX_HELPERS = 8;
let running = 0;
const queue: (() => void)[] = [];

/**
 * Sends StartContainer from a detached process (its own session: neither the executor's death nor a signal to
 * the executor's process group ends it) and resolves with its answer; never rejects. At most {@link MAX_HELPERS}
 * run at once; the others wait their turn (a container waiting for its turn is still only created, which a
 * restart starts).
 */
export async function startDetached(socketPath: string, containerId: string, timeoutMs: number): Promise<StartAnswer> {
  // A slot is handed straight to the next in line, so no newcomer can slip in between.
  if (running >= MAX_HELPERS) await new Promise<void>((resolve) => queue.push(resolve));
  else running++;
  try {
    return await runHelper(socketPath, containerId, timeoutMs);
  } finally {
    const next = queue.shift();
    if (next) next();
    else running--;
  }
}

function runHelper(socketPath: string, containerId: string, timeoutMs: number): Promise<StartAnswer> {
  return new Promise((resolve) => {
    let out = "";
    let err = "";
    let child;
    try {
      child = spawn(process.execPath, [START_HELPER, socketPath, containerId, String(timeoutMs)], {
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (error) {
      resolve({ ok: false, message: `cannot run the start helper ${START_HELPER}: ${(error as Error).message}` });
      return;
    }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err = (err + chunk).slice(-2000)));
    child.on("error", (error) => resolve({ ok: false, message: `cannot run the start helper ${START_HELPER}: ${error.message}` }));
    child.on("close", (code, signal) => {
      const line = out.trim().split("\n").pop() ?? "";
      try {
        const answer = JSON.parse(line) as StartAnswer;
        if (typeof answer.ok === "boolean") {
          resolve(answer);
          return;
        }
      } catch {
        // reported below
      }
      resolve({ ok: false, message: `the start helper ended (${signal ?? `exit code ${code}`}) without an answer: ${err.trim() || line}` });
    });
  });
}
