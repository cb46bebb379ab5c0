import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, type ExecutorProcess } from "@org/testkit";
import { taskctl, taskctlOnTerminal } from "./helpers.js";

const SPINNER_FRAME = /[\u2800-\u28ff]/;
const COLOUR = /\x1b\[[\d;]*m/;

describe("a terminal session against a piped one", () => {
  let executor: ExecutorProcess;
  let env: Record<string, string>;
  beforeAll(async () => {
    executor = await startExecutor();
    env = { TASKCTL_EXECUTOR: executor.url };
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("on a terminal, waiting shows a spinner with elapsed time and the table is coloured", async () => {
    const result = await taskctlOnTerminal(["run", "--wait", "on-tty", "--", "sh", "-c", "sleep 2; exit 5"], { env });
    expect(result.code).toBe(5);
    expect(result.stdout).toMatch(SPINNER_FRAME);
    expect(result.stdout).toContain("waiting for task on-tty");
    expect(result.stdout).toMatch(/waiting for task on-tty \x1b\[2m\d+s/);
    expect(result.stdout).toMatch(COLOUR);
    expect(result.stdout).toContain("\x1b[1mNAME");
    expect(result.stdout).toMatch(/\x1b\[31mterminated/);
  });

  it("with NO_COLOR a terminal gets the spinner but no colour", async () => {
    const result = await taskctlOnTerminal(["run", "--wait", "no-color", "--", "sleep", "1"], { env: { ...env, NO_COLOR: "1" } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(SPINNER_FRAME);
    expect(result.stdout).not.toMatch(COLOUR);
    const flag = await taskctlOnTerminal(["--no-color", "list"], { env });
    expect(flag.stdout).toContain("no-color");
    expect(flag.stdout).not.toMatch(COLOUR);
  });

  it("piped, the same commands print plain text only: no spinner, no escape codes", async () => {
    const result = await taskctl(["run", "--wait", "piped", "--", "sh", "-c", "sleep 2; exit 5"], { env });
    expect(result.code).toBe(5);
    expect(result.stderr).toBe("");
    expect(result.stdout).not.toMatch(/\x1b/);
    expect(result.stdout).not.toMatch(SPINNER_FRAME);
    expect(result.stdout).toMatch(/^NAME\s+STATE\s+EXIT\s+REASON\s+AGE\s+DURATION\npiped\s+terminated\s+5\s+Failed\s+\S+\s+\S+\n$/);
    const listed = await taskctl(["list", "-o", "wide"], { env });
    expect(listed.stdout).not.toMatch(/\x1b/);
  });

  it("on a terminal, wide tables are cut to its width; piped they are whole", async () => {
    const long = `echo ${"x".repeat(150)}`;
    await executor.client.createTask({ name: "long-command", spec: { process: { command: ["sh", "-c", long] } } });
    const onTerminal = await taskctlOnTerminal(["--no-color", "get", "long-command", "-o", "wide"], { env });
    const lines = onTerminal.stdout.split(/\r?\n/).filter((line) => line.includes("long-command"));
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThanOrEqual(100);
    expect(lines[0]).toMatch(/…$/);
    const piped = await taskctl(["get", "long-command", "-o", "wide"], { env });
    expect(piped.stdout).toContain(long);
  });

  it("on a terminal, watch redraws a live table", async () => {
    const watching = taskctlOnTerminal(["watch"], { env, interruptAfterSeconds: 10, timeoutMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await executor.client.createTask({ name: "watched-live", spec: { process: { command: ["true"] } } });
    const result = await watching;
    // Ctrl-C (SIGINT) ends it cleanly.
    expect(result.code).toBe(124);
    expect(result.stdout).not.toMatch(/error/);
    expect(result.stdout).toContain("\x1b[H\x1b[2J");
    expect(result.stdout).toContain("(Ctrl-C to stop)");
    expect(result.stdout).toMatch(/watched-live/);
  });

  it("delete --all asks on a terminal: no deletes nothing, yes deletes", async () => {
    await executor.client.createTask({ name: "to-delete", spec: { process: { command: ["true"] } } });
    const no = await taskctlOnTerminal(["delete", "--all"], { env, input: "n\n" });
    expect(no.stdout).toMatch(/Delete \d+ task\(s\) on [^\n]*to-delete[^\n]*\? \[y\/N\]/);
    expect(no.stdout).toContain("Nothing deleted.");
    expect((await executor.client.listTasks()).some((task) => task.name === "to-delete")).toBe(true);
    const yes = await taskctlOnTerminal(["delete", "--all"], { env, input: "y\n" });
    expect(yes.stdout).toContain("task/to-delete deleted");
  });
});
