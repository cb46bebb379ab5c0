import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  EXECUTOR_TASK_NAME_MAX,
  TaskResourceSpecSchema,
  TaskScheduleSpecSchema,
  allCrds,
  crdFileText,
  executorTaskName,
  nextScheduleTime,
  previousScheduleTime,
  scheduleProblem,
  scheduledRunName,
  selectorMatches,
  withCondition,
} from "../src/index.js";

describe("selectorMatches", () => {
  const labels = { tier: "batch", zone: "a" };
  it.each([
    [undefined, true],
    [{}, true],
    [{ matchLabels: { tier: "batch" } }, true],
    [{ matchLabels: { tier: "web" } }, false],
    [{ matchExpressions: [{ key: "zone", operator: "In" as const, values: ["a", "b"] }] }, true],
    [{ matchExpressions: [{ key: "zone", operator: "NotIn" as const, values: ["a"] }] }, false],
    [{ matchExpressions: [{ key: "gpu", operator: "NotIn" as const, values: ["x"] }] }, true],
    [{ matchExpressions: [{ key: "gpu", operator: "Exists" as const }] }, false],
    [{ matchExpressions: [{ key: "gpu", operator: "DoesNotExist" as const }] }, true],
    [{ matchLabels: { tier: "batch" }, matchExpressions: [{ key: "zone", operator: "Exists" as const }] }, true],
  ])("%j → %s", (selector, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe("executorTaskName", () => {
  const uid = "0b7a3c2e-1f0d-4c8e-9a55-2c1d3e4f5a6b";
  it("joins namespace, name and uid, and the attempt from the second on", () => {
    expect(executorTaskName("ns", "job", uid)).toBe(`ns.job.${uid}`);
    expect(executorTaskName("ns", "job", uid, 2)).toBe(`ns.job.${uid}.2`);
  });
  it("shortens long names with a hash, keeping them distinct and within the limit", () => {
    const long = "a".repeat(253);
    const first = executorTaskName("ns", long, uid);
    const other = executorTaskName("ns", `${"a".repeat(252)}b`, uid);
    expect(first.length).toBeLessThanOrEqual(EXECUTOR_TASK_NAME_MAX);
    expect(first).not.toBe(other);
    expect(first).toMatch(/^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/);
    expect(first).toContain(uid);
  });
});

describe("Task spec", () => {
  it("defaults terminated and backoffLimit", () => {
    expect(TaskResourceSpecSchema.parse({ process: { command: ["true"] } })).toMatchObject({ terminated: false, backoffLimit: 0 });
  });
  it.each([
    [{}, ""],
    [{ process: { command: ["true"] }, container: { image: "busybox" } }, ""],
    [{ process: { command: [] } }, "process.command"],
    [{ process: { command: ["true"] }, backoffLimit: -1 }, "backoffLimit"],
  ])("refuses %j (path %s)", (spec, path) => {
    const result = TaskResourceSpecSchema.safeParse(spec);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((issue) => issue.path.join("."))).toContain(path);
  });
});

describe("schedules", () => {
  it.each([
    ["*/5 * * * *", "UTC", undefined],
    ["*/2 * * * * *", "Europe/Berlin", undefined],
    ["@hourly", "UTC", undefined],
    ["* * * *", "UTC", "5 fields"],
    ["1 2 3 4 5 6 7", "UTC", "5 fields"],
    ["61 * * * *", "UTC", "not a valid cron expression"],
    ["* * * * *", "Mars/Olympus", "IANA"],
  ])("%s in %s", (schedule, zone, problem) => {
    const found = scheduleProblem(schedule, zone);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
  it("finds the latest time at or before now and the next after", () => {
    const at = Date.parse("2026-03-01T10:00:07Z");
    expect(new Date(previousScheduleTime("*/5 * * * * *", "UTC", at)!).toISOString()).toBe("2026-03-01T10:00:05.000Z");
    expect(previousScheduleTime("*/5 * * * * *", "UTC", Date.parse("2026-03-01T10:00:05Z"))).toBe(Date.parse("2026-03-01T10:00:05Z"));
    expect(new Date(nextScheduleTime("*/5 * * * * *", "UTC", at)!).toISOString()).toBe("2026-03-01T10:00:10.000Z");
  });
  it("honours the time zone", () => {
    const at = Date.parse("2026-07-01T12:00:00Z");
    // 09:00 in Berlin (UTC+2 in summer) is 07:00 UTC.
    expect(new Date(previousScheduleTime("0 9 * * *", "Europe/Berlin", at)!).toISOString()).toBe("2026-07-01T07:00:00.000Z");
  });
  it("names runs after the scheduled second", () => {
    expect(scheduledRunName("nightly", Date.parse("2026-03-01T10:00:05.400Z"))).toBe("nightly-1772359205");
  });
  it("refuses a bad schedule with the field named", () => {
    const result = TaskScheduleSpecSchema.safeParse({ schedule: "nope", taskTemplate: { spec: { process: { command: ["true"] } } } });
    expect(result.error?.issues[0]?.path).toEqual(["schedule"]);
  });
});

describe("withCondition", () => {
  const old = { type: "Succeeded", status: "Unknown" as const, lastTransitionTime: "t1" };
  it("keeps the transition time when the status is unchanged and moves it otherwise", () => {
    expect(withCondition([old], { ...old, reason: "Running", lastTransitionTime: "t2" })[0]!.lastTransitionTime).toBe("t1");
    expect(withCondition([old], { ...old, status: "True", lastTransitionTime: "t2" })[0]!.lastTransitionTime).toBe("t2");
  });
});

describe("CRDs", () => {
  it.each(allCrds())("deploy/crds/$file is generated from the schemas (run `pnpm --filter @org/task-api crds`)", ({ file, manifest }) => {
    const committed = readFileSync(new URL(`../../../deploy/crds/${file}`, import.meta.url), "utf8");
    expect(committed).toBe(crdFileText(manifest));
  });
  it("are structural: no keyword the API server would refuse", () => {
    const text = JSON.stringify(allCrds());
    expect(text).not.toMatch(/"(\$schema|propertyNames|anyOf|oneOf|allOf|\$ref)"/);
    expect(text).not.toContain('"additionalProperties":false');
  });
});
