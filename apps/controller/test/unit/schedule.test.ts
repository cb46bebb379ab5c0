import { describe, expect, it } from "vitest";
import { decideSchedule, type ScheduleFacts } from "../../src/policy/schedule.js";

const at = (time: string) => Date.parse(time);
const base: ScheduleFacts = {
  schedule: "*/5 * * * *",
  timeZone: "UTC",
  concurrencyPolicy: "Always",
  suspend: false,
  createdMs: at("2026-01-01T00:00:00Z"),
  activeRuns: 0,
  nowMs: at("2026-01-01T00:07:00Z"),
};

describe("decideSchedule", () => {
  it.each<[string, Partial<ScheduleFacts>, Record<string, unknown>]>([
    ["a due run fires", {}, { kind: "run", scheduledMs: at("2026-01-01T00:05:00Z"), replaceActive: false }],
    ["nothing before the first time after creation", { nowMs: at("2026-01-01T00:04:59Z") }, { kind: "wait" }],
    ["the creation second itself is not due", { nowMs: at("2026-01-01T00:00:00Z") }, { kind: "wait" }],
    ["a run already created is not created again", { lastScheduleMs: at("2026-01-01T00:05:00Z") }, { kind: "wait" }],
    ["only the most recent missed run fires", { nowMs: at("2026-01-01T01:02:00Z") }, { kind: "run", scheduledMs: at("2026-01-01T01:00:00Z") }],
    ["past the starting deadline nothing fires", { startingDeadlineSeconds: 60, nowMs: at("2026-01-01T00:06:30Z") }, { kind: "wait" }],
    ["within the starting deadline it fires", { startingDeadlineSeconds: 120, nowMs: at("2026-01-01T00:06:30Z") }, { kind: "run" }],
    ["suspended: nothing", { suspend: true }, { kind: "wait" }],
    ["resumed: the most recent missed run fires", { suspend: false, lastScheduleMs: at("2026-01-01T00:00:00Z"), nowMs: at("2026-01-01T00:22:00Z") }, { kind: "run", scheduledMs: at("2026-01-01T00:20:00Z") }],
    ["Forbid with an active run waits", { concurrencyPolicy: "Forbid", activeRuns: 1 }, { kind: "forbidden" }],
    ["Forbid without active runs fires", { concurrencyPolicy: "Forbid" }, { kind: "run" }],
    ["Replace cancels the active runs", { concurrencyPolicy: "Replace", activeRuns: 2 }, { kind: "run", replaceActive: true }],
    ["Always runs alongside", { activeRuns: 2 }, { kind: "run", replaceActive: false }],
    ["seconds field", { schedule: "*/2 * * * * *", nowMs: at("2026-01-01T00:00:03.500Z") }, { kind: "run", scheduledMs: at("2026-01-01T00:00:02Z") }],
    ["time zone", { schedule: "0 9 * * *", timeZone: "America/New_York", nowMs: at("2026-01-01T14:30:00Z") }, { kind: "run", scheduledMs: at("2026-01-01T14:00:00Z") }],
  ])("%s", (_name, facts, expected) => {
    expect(decideSchedule({ ...base, ...facts })).toMatchObject(expected);
  });

  it("requeues for the next scheduled time", () => {
    expect(decideSchedule(base).requeueAfterMs).toBe(at("2026-01-01T00:10:00Z") - base.nowMs);
    expect(decideSchedule({ ...base, suspend: true }).requeueAfterMs).toBe(at("2026-01-01T00:10:00Z") - base.nowMs);
  });
});
