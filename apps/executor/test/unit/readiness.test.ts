import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { readiness } from "../../src/http/readiness.js";

describe("readiness()", () => {
  it("many concurrent probes share one round of checks, and the reply is reused for cacheMs", async () => {
    let runs = 0;
    const ready = readiness([{ name: "a", run: async () => void (runs++, await sleep(20)) }], { cacheMs: 200, timeoutMs: 1000 });
    const replies = await Promise.all(Array.from({ length: 50 }, () => ready()));
    expect(runs).toBe(1);
    expect(replies.every((reply) => reply.status === "ready")).toBe(true);
    await ready();
    expect(runs).toBe(1);
    await sleep(250);
    await ready();
    expect(runs).toBe(2);
  });

  it("failed checks are the reasons, with their messages; passing ones are listed as checks", async () => {
    const ready = readiness([
      { name: "good", run: () => Promise.resolve() },
      { name: "bad", run: () => Promise.reject(new Error("broken disk")) },
    ], { cacheMs: 0 });
    expect(await ready()).toEqual({
      status: "unready",
      checks: [
        { check: "good", ok: true, durationMs: expect.any(Number) },
        { check: "bad", ok: false, durationMs: expect.any(Number), message: "broken disk" },
      ],
      reasons: [{ check: "bad", message: "broken disk" }],
    });
  });

  it("a hanging check fails after timeoutMs and is not started again until it returns", async () => {
    let runs = 0;
    let release = () => undefined as void;
    const ready = readiness([{ name: "stuck", run: () => (runs++, new Promise<void>((resolve) => (release = resolve))) }], { cacheMs: 0, timeoutMs: 50 });
    const first = await ready();
    expect(first.reasons).toEqual([{ check: "stuck", message: expect.stringMatching(/^no answer within 50 ms/) }]);
    const second = await ready();
    expect(second.reasons?.[0]?.message).toMatch(/running for \d+ ms/);
    expect(runs).toBe(1);
    release();
    await sleep(0);
    // Returned now: the next round starts it again, and this time it answers.
    const third = ready();
    release();
    expect((await third).status).toBe("ready");
    expect(runs).toBe(2);
  });
});
