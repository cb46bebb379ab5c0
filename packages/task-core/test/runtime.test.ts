import { describe, expect, it } from "vitest";
import { LOST_EXIT_CODE, lostOutcome } from "../src/index.js";

describe("lostOutcome: the one shape of a lost outcome", () => {
  it("is exit code 255, reason Lost, the message, and the end time", () => {
    expect(lostOutcome("gone", { now: new Date(0) })).toEqual({ exitCode: LOST_EXIT_CODE, reason: "Lost", message: "gone", finishedAt: "1970-01-01T00:00:00.000Z" });
    expect(LOST_EXIT_CODE).toBe(255);
  });

  it("keeps the start time when the task had started, and a runtime's more precise reason", () => {
    expect(lostOutcome("vanished", { startedAt: "2026-01-01T00:00:00.000Z", reason: "ContainerMissing", now: new Date(1000) })).toEqual({
      exitCode: 255,
      reason: "ContainerMissing",
      message: "vanished",
      startedAt: "2026-01-01T00:00:00.000Z",
      finishedAt: "1970-01-01T00:00:01.000Z",
    });
    expect(lostOutcome("x", { startedAt: undefined })).not.toHaveProperty("startedAt");
  });
});
