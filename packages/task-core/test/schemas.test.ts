import { describe, expect, it } from "vitest";
import {
  fieldIssues,
  isValidTaskName,
  taskDirName,
  LabelsSchema,
  parseQuantity,
  TaskRequestSchema,
  TaskSetRequestSchema,
  toWireTask,
} from "../src/index.js";

describe("task names", () => {
  it.each([
    ["a", true],
    ["my-first-task", true],
    ["A.b_c-1", true],
    ["x".repeat(253), true],
    ["x".repeat(254), true],
    ["a".repeat(255) + "-0", true],
    ["x".repeat(512), true],
    ["x".repeat(513), false],
    ["a".repeat(300) + "/b", false],
    ["", false],
    [".", false],
    ["..", false],
    ["../x", false],
    ["a/b", false],
    ["-a", false],
    ["a-", false],
    ["a b", false],
    ["ä", false],
    ["a\u0000", false],
  ])("%j valid: %s", (name, valid) => {
    expect(isValidTaskName(name)).toBe(valid);
  });
});

describe("task directory names", () => {
  it("names up to 253 characters are their own directory name", () => {
    expect(taskDirName("a")).toBe("a");
    expect(taskDirName("x".repeat(253))).toBe("x".repeat(253));
  });

  it.each([254, 255, 300, 511, 512])("a %i-character name maps to one path component of at most 255 bytes", (length) => {
    const name = "n".repeat(length - 2) + "-7";
    const dir = taskDirName(name);
    expect(Buffer.byteLength(dir)).toBeLessThanOrEqual(255);
    expect(dir).not.toContain("/");
    expect(dir.startsWith(name.slice(0, 160))).toBe(true);
    expect(isValidTaskName(dir)).toBe(false);
    expect(taskDirName(name)).toBe(dir);
  });

  it("long names that differ only at the end get different directories", () => {
    const base = "c".repeat(400);
    const names = ["0", "1", "2", "10"].map((suffix) => `${base}-${suffix}`);
    expect(new Set(names.map(taskDirName)).size).toBe(names.length);
  });
});

describe("quantities", () => {
  it.each([
    ["500m", 0.5],
    ["2", 2],
    ["1.5", 1.5],
    ["128Mi", 128 * 2 ** 20],
    ["1Gi", 2 ** 30],
    ["1G", 1e9],
    ["1e3", 1000],
    ["10k", 10_000],
  ])("%s = %d", (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value);
  });

  it.each(["", "abc", "1Xi", "-1", " 1", "1 ", "1..2", "Mi"])("%j is not a quantity", (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe("labels", () => {
  it.each([
    [{ app: "web" }, true],
    [{ "app.kubernetes.io/name": "web" }, true],
    [{ app: "" }, true],
    [{ "bad key": "x" }, false],
    [{ app: "x".repeat(64) }, false],
    [{ "UPPER.example/x": "y" }, false],
  ])("%j valid: %s", (labels, valid) => {
    expect(LabelsSchema.safeParse(labels).success).toBe(valid);
  });
});

describe("task requests", () => {
  it("normalises the legacy top-level process into spec", () => {
    const parsed = TaskRequestSchema.parse({ name: "t", process: { command: ["ls"], timeoutSeconds: 5 } });
    expect(parsed).toEqual({ name: "t", spec: { process: { command: ["ls"], timeoutSeconds: 5 } }, legacyShape: true });
  });

  it("ignores fields the executor fills in, so a task read back can be sent again", () => {
    const parsed = TaskRequestSchema.parse({ name: "t", spec: { process: { command: ["ls"] } }, status: { state: { running: {} } } });
    expect(parsed.legacyShape).toBe(false);
  });

  it("names the index and field of a bad set entry and of duplicates", () => {
    const result = TaskSetRequestSchema.safeParse([
      { name: "a", spec: { process: { command: ["x"] } } },
      { name: "a", spec: { process: { command: ["x"] } } },
      { name: "b", spec: { process: { command: [] } } },
    ]);
    expect(result.success).toBe(false);
    const paths = fieldIssues(result.error!).map((issue) => issue.path);
    expect(paths).toContain("[2].spec.process.command");
  });

  it("reports duplicates of an otherwise valid set by index", () => {
    const entry = { name: "a", spec: { process: { command: ["x"] } } };
    const result = TaskSetRequestSchema.safeParse([entry, entry]);
    expect(fieldIssues(result.error!)).toEqual([{ path: "[1].name", message: "duplicate name 'a' (also at index 0)" }]);
  });

  it("adds process and processStatus only for legacy tasks", () => {
    const task = { name: "t", spec: { process: { command: ["ls"] } }, status: { state: { waiting: { reason: "Initialized" } } } };
    expect(toWireTask(task, false)).toEqual(task);
    expect(toWireTask(task, true)).toMatchObject({ process: { command: ["ls"] }, processStatus: { waiting: { reason: "Initialized" } } });
  });
});
