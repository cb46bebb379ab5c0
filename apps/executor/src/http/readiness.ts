import type { RequestHandler } from "express";
import { z } from "zod";

/** One readiness check: resolves when the part it checks works, throws an Error saying why not. */
export interface ReadinessCheck {
  name: string;
  run(): Promise<void>;
}

const CheckResultSchema = z.object({
  check: z.string().meta({ description: "dataDir, cri (container mode) or mainContainer (sidecar mode)" }),
  ok: z.boolean(),
  durationMs: z.number().nonnegative(),
  message: z.string().optional().meta({ description: "why the check failed" }),
});

/** The reply of `GET /ready`: 200 with `ready`, 503 with `unready` and the failed checks as `reasons`. */
export const ReadyReplySchema = z
  .object({
    status: z.enum(["ready", "unready"]),
    checks: z.array(CheckResultSchema),
    reasons: z.array(z.object({ check: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: "ReadyReply" });
export type ReadyReply = z.infer<typeof ReadyReplySchema>;

export interface ReadinessOptions {
  /** A reply is reused this long, so probes under load cost one round of checks per interval (default 1 s). */
  cacheMs?: number;
  /** A check that has not answered by then counts as failed (default 2 s). */
  timeoutMs?: number;
}

/**
 * Runs the checks concurrently, each bounded by the timeout. A check still hanging from an earlier round is not
 * started again (it would pile up on a stuck file system or socket); it fails until it returns.
 */
export function readiness(checks: ReadinessCheck[], options: ReadinessOptions = {}): () => Promise<ReadyReply> {
  const cacheMs = options.cacheMs ?? 1000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const pending = new Map<string, { since: number; done: Promise<void> }>();
  let cached: { at: number; reply: ReadyReply } | undefined;
  let round: Promise<ReadyReply> | undefined;

  const runOne = async (check: ReadinessCheck) => {
    const started = Date.now();
    let running = pending.get(check.name);
    if (!running) {
      const done = check.run().finally(() => pending.delete(check.name));
      running = { since: started, done };
      pending.set(check.name, running);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms (the check has been running for ${Date.now() - running.since} ms)`)), timeoutMs);
    });
    try {
      await Promise.race([running.done, timedOut]);
      return { check: check.name, ok: true, durationMs: Date.now() - started };
    } catch (error) {
      return { check: check.name, ok: false, durationMs: Date.now() - started, message: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
  };

  const evaluate = async (): Promise<ReadyReply> => {
    const results = await Promise.all(checks.map(runOne));
    const failed = results.filter((result) => !result.ok);
    if (failed.length === 0) return { status: "ready", checks: results };
    return { status: "unready", checks: results, reasons: failed.map((result) => ({ check: result.check, message: result.message ?? "failed" })) };
  };

  return () => {
    if (cached && Date.now() - cached.at < cacheMs) return Promise.resolve(cached.reply);
    round ??= evaluate()
      .then((reply) => {
        cached = { at: Date.now(), reply };
        return reply;
      })
      .finally(() => {
        round = undefined;
      });
    return round;
  };
}

/** `GET /ready`: 200 when every check passes, else 503; the body says which checks failed and why. */
export function readyHandler(check: () => Promise<ReadyReply>): RequestHandler {
  return (_request, response, next) => {
    check().then((reply) => {
      response.setHeader("cache-control", "no-store");
      response.status(reply.status === "ready" ? 200 : 503).json(reply);
    }, next);
  };
}
