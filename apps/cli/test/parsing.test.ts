import { describe, expect, it } from "vitest";
import { EXIT_NO_EXIT_CODE } from "../src/errors.js";
import { parseManifest } from "../src/manifest.js";
import { matches, parseSelector } from "../src/selector.js";
import { executorItemOf } from "../src/targets/convert.js";
import { logRequestFrom } from "../src/verbs/logs.js";
import { exitCodeFor, taskFromRun } from "../src/verbs/run.js";
import type { TaskView } from "../src/view.js";

describe("label selectors", () => {
  const labels = { app: "billing", tier: "batch" };
  it.each([
    ["app=billing", true],
    ["app==billing", true],
    ["app!=billing", false],
    ["app=web", false],
    ["app in (web,billing)", true],
    ["app notin (web, billing)", false],
    ["tier", true],
    ["!tier", false],
    ["!owner", true],
    ["app=billing,tier=batch", true],
    ["app=billing,tier in (web)", false],
    ["owner!=x", true],
    ["", true],
  ])("%s matches: %s", (selector, expected) => expect(matches(parseSelector(selector), labels)).toBe(expected));

  it.each(["a in (b", "=x", "a=b c", "a b"])("'%s' is rejected", (selector) => {
    expect(() => parseSelector(selector)).toThrow(/invalid label selector/);
  });

  it("reads domain-prefixed keys", () => {
    expect(parseSelector("app.kubernetes.io/name=billing")).toEqual([{ key: "app.kubernetes.io/name", op: "=", value: "billing" }]);
  });
});

describe("manifests", () => {
  it("reads a YAML list, a JSON array, a Kubernetes List and several documents", () => {
    expect(parseManifest("- name: a\n- name: b\n", "f").map((item) => item.value)).toEqual([{ name: "a" }, { name: "b" }]);
    expect(parseManifest('[{"name":"a"}]', "f").map((item) => item.value)).toEqual([{ name: "a" }]);
    expect(parseManifest("kind: TaskList\nitems:\n  - metadata: {name: a}\n", "f").map((item) => item.value)).toEqual([{ metadata: { name: "a" } }]);
    expect(parseManifest("name: a\n---\nname: b\n", "f")).toHaveLength(2);
    expect(parseManifest("", "f")).toEqual([]);
  });

  it("knows the line of a field of an item", () => {
    const items = parseManifest("- name: a\n  spec:\n    process:\n      command: []\n- name: b\n", "f");
    expect(items[0]!.lineOf(["spec", "process", "command"])).toBe(4);
    expect(items[0]!.lineOf(["spec", "nothing", "here"])).toBe(2);
    expect(items[1]!.lineOf([])).toBe(5);
  });

  it("names file, line and column of a syntax error", () => {
    expect(() => parseManifest("- name: a\n  spec: [\n", "tasks.yaml")).toThrow(/^tasks\.yaml:\d+:\d+: /);
  });

  it("turns Task resources into executor items", () => {
    const resource = { apiVersion: "tasks.org.dev/v1alpha1", kind: "Task", metadata: { name: "a", labels: { x: "y" } }, spec: { process: { command: ["true"] }, backoffLimit: 2 } };
    expect(executorItemOf(resource)).toEqual({ fromResource: true, value: { name: "a", labels: { x: "y" }, spec: { process: { command: ["true"] } } } });
    expect(executorItemOf({ name: "a" })).toEqual({ fromResource: false, value: { name: "a" } });
  });
});

describe("run flags", () => {
  it("make a process task", () => {
    expect(
      taskFromRun("t", ["sh", "-c", "echo hi"], { env: ["A=1", "B=x=y"], workdir: "/tmp", timeout: "5m", label: ["team=x"], app: "billing", cpu: "500m", memory: "64Mi" }),
    ).toEqual({
      name: "t",
      labels: { team: "x", "app.kubernetes.io/name": "billing" },
      spec: {
        process: {
          command: ["sh"],
          args: ["-c", "echo hi"],
          env: [
            { name: "A", value: "1" },
            { name: "B", value: "x=y" },
          ],
          workingDir: "/tmp",
          timeoutSeconds: 300,
          resources: { limits: { cpu: "500m", memory: "64Mi" } },
        },
      },
    });
  });

  it("make a container task", () => {
    expect(taskFromRun("t", ["ls", "/data"], { image: "busybox:1.36", volume: ["data:/data"] })).toEqual({
      name: "t",
      spec: { container: { image: "busybox:1.36", command: ["ls"], args: ["/data"], volumeMounts: [{ name: "data", mountPath: "/data" }] } },
    });
    expect(taskFromRun("t", [], { image: "busybox" })).toEqual({ name: "t", spec: { container: { image: "busybox" } } });
  });

  it.each([
    [[], {}, /needs a command/],
    [["x"], { env: ["NOVALUE"] }, /--env takes KEY=VALUE/],
    [["x"], { volume: ["a:/b"] }, /--volume is for container tasks/],
    [["x"], { timeout: "soon" }, /invalid --timeout/],
  ])("reject %j %j", (command, options, message) => {
    expect(() => taskFromRun("t", command, options)).toThrow(message);
  });
});

describe("exit codes of waited tasks", () => {
  const base: TaskView = { name: "t", state: "terminated", labels: {}, what: "", terminal: true, hasStarted: true, deleting: false, raw: {} };
  it.each([
    ["its own code", { exitCode: 3, reason: "Failed" }, 3, undefined],
    ["zero", { exitCode: 0, reason: "Succeeded" }, 0, undefined],
    ["cancelled after SIGTERM", { exitCode: 143, reason: "Cancelled" }, 143, undefined],
    ["cancelled before it started", { exitCode: 143, reason: "Cancelled", hasStarted: false }, EXIT_NO_EXIT_CODE, /without an exit code \(Cancelled\)/],
    ["lost", { exitCode: 255, reason: "Lost" }, EXIT_NO_EXIT_CODE, /Lost/],
    ["cluster task without a code", { state: "Failed", reason: "ExecutorLost" }, EXIT_NO_EXIT_CODE, /ExecutorLost/],
    ["never placed", { state: "Pending", terminal: false, hasStarted: false, reason: "NoExecutor" }, EXIT_NO_EXIT_CODE, /did not start in time: Pending \(NoExecutor\)/],
  ])("%s", (_label, fields, code, problem) => {
    const result = exitCodeFor({ ...base, ...fields });
    expect(result.code).toBe(code);
    if (problem) expect(result.problem).toMatch(problem);
    else expect(result.problem).toBeUndefined();
  });
});

describe("log flags", () => {
  it("map to the executor's query", () => {
    expect(logRequestFrom({ tail: "5", since: "2m", timestamps: true, stream: "stderr" })).toEqual({ tailLines: 5, sinceSeconds: 120, timestamps: true, stream: "stderr" });
    expect(logRequestFrom({ sinceTime: "2024-05-01T10:00:00Z" })).toEqual({ sinceTime: "2024-05-01T10:00:00Z" });
  });
  it.each([
    [{ tail: "x" }, /--tail/],
    [{ stream: "both" }, /--stream/],
    [{ since: "1m", sinceTime: "2024-05-01T10:00:00Z" }, /exclusive/],
    [{ sinceTime: "yesterday" }, /RFC 3339/],
  ])("reject %j", (options, message) => expect(() => logRequestFrom(options)).toThrow(message));
});
