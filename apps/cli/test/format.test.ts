import { describe, expect, it } from "vitest";
import { between, humanDuration, parseDuration, parseSeconds } from "../src/duration.js";
import { serialize, formatTasks, parseOutput } from "../src/format/output.js";
import { taskRow } from "../src/format/rows.js";
import { fitLastColumn, renderTable, truncate } from "../src/format/table.js";
import type { Terminal } from "../src/terminal.js";
import { viewOfExecutorTask, describeSpec } from "../src/view.js";
import pc from "picocolors";
import { parse } from "yaml";

const plain: Terminal = { out: pc.createColors(false), err: pc.createColors(false), interactiveErr: false, interactiveIn: false, columns: undefined, color: false };
const NOW = Date.parse("2024-05-01T12:00:00Z");

describe("durations", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["1m30s", 90_000],
    ["2h", 7_200_000],
    ["500ms", 500],
    ["45", 45_000],
    ["1.5", 1500],
    ["1d", 86_400_000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "5q", "m5", "1m 30s", "-5s", "s"])("'%s' is a usage error", (text) => {
    expect(() => parseDuration(text, "--timeout")).toThrow(/invalid --timeout/);
  });

  it("timeouts round up to whole seconds", () => {
    expect(parseSeconds("1500ms")).toBe(2);
    expect(parseSeconds("10")).toBe(10);
  });

  it.each([
    [0, "0s"],
    [5_000, "5s"],
    [119_000, "119s"],
    [180_000, "3m"],
    [190_000, "3m10s"],
    [25 * 60_000, "25m"],
    [5 * 3_600_000 + 3 * 60_000, "5h3m"],
    [20 * 3_600_000, "20h"],
    [2 * 86_400_000, "2d"],
    [3 * 86_400_000 + 4 * 3_600_000, "3d4h"],
    [40 * 86_400_000, "40d"],
    [800 * 86_400_000, "2y"],
  ])("%d ms reads %s", (ms, text) => expect(humanDuration(ms)).toBe(text));

  it("between two stamps, or until now, or nothing without a start", () => {
    expect(between("2024-05-01T11:59:00Z", "2024-05-01T11:59:30Z", NOW)).toBe(30_000);
    expect(between("2024-05-01T11:59:00Z", undefined, NOW)).toBe(60_000);
    expect(between(undefined, undefined, NOW)).toBeUndefined();
  });
});

const created = "2024-05-01T11:55:00Z";
const views = {
  waiting: viewOfExecutorTask({ name: "q", spec: { process: { command: ["sleep"], args: ["5"] } }, status: { state: { waiting: { reason: "Queued" } } }, creationTimestamp: created }),
  running: viewOfExecutorTask({ name: "r", labels: { app: "billing" }, spec: { process: { command: ["sh"], args: ["-c", "echo it's"] } }, status: { state: { running: { startedAt: "2024-05-01T11:58:00Z" } } }, creationTimestamp: created }),
  done: viewOfExecutorTask({
    name: "d",
    spec: { container: { image: "busybox:1.36", command: ["ls"] } },
    status: { state: { terminated: { exitCode: 3, reason: "Failed", startedAt: "2024-05-01T11:56:00Z", finishedAt: "2024-05-01T11:56:12Z" } } },
    creationTimestamp: created,
    deletionTimestamp: "2024-05-01T11:59:00Z",
  }),
};

describe("task rows", () => {
  it.each([
    ["waiting", views.waiting, false, ["q", "waiting", "", "Queued", "5m", ""]],
    ["running", views.running, false, ["r", "running", "", "", "5m", "2m"]],
    ["terminated and deleting", views.done, false, ["d", "terminated (deleting)", "3", "Failed", "5m", "12s"]],
    ["running, wide", views.running, true, ["r", "running", "", "", "5m", "2m", "app=billing", "sh -c 'echo it'\\''s'"]],
    ["container, wide", views.done, true, ["d", "terminated (deleting)", "3", "Failed", "5m", "12s", "", "busybox:1.36: ls"]],
  ])("%s", (_label, view, wide, row) => expect(taskRow(view, wide, NOW)).toEqual(row));

  it("a cluster task's duration is the controller's, and wide rows name the executor", () => {
    const view = { ...views.running, duration: "1m5s", executor: "executor-0" };
    expect(taskRow(view, true, NOW, true)).toEqual(["r", "running", "", "", "5m", "1m5s", "app=billing", "executor-0", "sh -c 'echo it'\\''s'"]);
  });

  it("describes specs", () => {
    expect(describeSpec({ process: { command: ["echo"], args: ["a b"] } })).toBe("echo 'a b'");
    expect(describeSpec({ container: { image: "busybox" } })).toBe("busybox");
  });
});

describe("tables", () => {
  it("are kubectl-like: no borders, three spaces between columns, no trailing blanks", () => {
    expect(renderTable(["NAME", "STATE"], [["a", "running"], ["long-name", "x"]])).toBe("NAME        STATE\na           running\nlong-name   x");
  });

  it("fit the last column into the terminal width, and leave piped output whole", () => {
    const rows = [["name", "x".repeat(100)]];
    expect(fitLastColumn(["NAME", "COMMAND"], rows, 40)[0]![1]).toHaveLength(33);
    expect(fitLastColumn(["LONGER-NAME", "COMMAND"], rows, 40)[0]![1]).toHaveLength(26);
    expect(fitLastColumn(["NAME", "COMMAND"], rows, 40)[0]![1]!.endsWith("…")).toBe(true);
    expect(fitLastColumn(["NAME", "COMMAND"], rows, undefined)).toBe(rows);
    expect(truncate("abc", 5)).toBe("abc");
  });
});

describe("output formats", () => {
  it("parses -o", () => {
    expect(parseOutput(undefined)).toBe("table");
    expect(parseOutput("wide")).toBe("wide");
    expect(() => parseOutput("xml")).toThrow(/unknown output format 'xml'/);
  });

  it("json and yaml print the API's objects unchanged", () => {
    const raw = [views.done.raw, views.running.raw];
    expect(JSON.parse(formatTasks([views.done, views.running], raw, "json", plain))).toEqual(raw);
    expect(parse(formatTasks([views.done, views.running], raw, "yaml", plain))).toEqual(raw);
    expect(serialize({ a: 1 }, "json")).toBe('{\n  "a": 1\n}\n');
  });

  it("name prints task/NAME", () => {
    expect(formatTasks([views.done, views.running], [], "name", plain)).toBe("task/d\ntask/r\n");
  });

  it("tables carry colour codes only when colours are on", () => {
    const colored: Terminal = { ...plain, out: pc.createColors(true) };
    expect(formatTasks([views.done], [], "table", plain)).not.toContain("\x1b[");
    expect(formatTasks([views.done], [], "table", colored)).toContain("\x1b[");
  });
});
