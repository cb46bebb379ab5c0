// The container monitor's poll schedule: a new container is looked at soon, an old one every interval.
import { describe, expect, it } from "vitest";
import { FIRST_POLL_MS, nextPollDelay } from "../src/monitor.js";

describe("nextPollDelay", () => {
  it.each([
    { ageMs: 0, intervalMs: 250, delayMs: FIRST_POLL_MS },
    { ageMs: 15, intervalMs: 250, delayMs: FIRST_POLL_MS },
    { ageMs: 40, intervalMs: 250, delayMs: 20 },
    { ageMs: 300, intervalMs: 250, delayMs: 150 },
    { ageMs: 500, intervalMs: 250, delayMs: 250 },
    { ageMs: 60_000, intervalMs: 250, delayMs: 250 },
    { ageMs: Infinity, intervalMs: 250, delayMs: 250 },
    { ageMs: 0, intervalMs: 5, delayMs: 5 },
  ])("age $ageMs ms, interval $intervalMs ms → $delayMs ms", ({ ageMs, intervalMs, delayMs }) => {
    expect(nextPollDelay(ageMs, intervalMs)).toBe(delayMs);
  });

  it("looks at a young container about a dozen times in its first second, then once per interval", () => {
    const ticks: number[] = [];
    for (let at = 0; at < 2000; at += nextPollDelay(at, 250)) ticks.push(at);
    expect(ticks.filter((t) => t < 1000).length).toBeGreaterThan(8);
    expect(ticks.filter((t) => t >= 1000).length).toBe(4);
  });
});
