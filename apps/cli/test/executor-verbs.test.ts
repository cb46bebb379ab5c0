import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { runCommand, shellQuote, taskctl, TASKCTL } from "./helpers.js";

/** Types lines with a TAB into an interactive zsh and prints what completion made of them. */
const ZSH_COMPLETE = fileURLToPath(new URL("./fixtures/zsh-complete.zsh", import.meta.url));

/** A PATH whose `taskctl` runs this build, as an installed one would (the completion scripts call it). */
async function taskctlOnPath(dir: string): Promise<string> {
  await mkdir(join(dir, "bin"), { recursive: true });
  await writeFile(join(dir, "bin", "taskctl"), `#!/bin/sh\nexec ${shellQuote([process.execPath, TASKCTL])} "$@"\n`, { mode: 0o755 });
  return `${join(dir, "bin")}:${process.env.PATH}`;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("taskctl verbs against a real executor", () => {
  let executor: ExecutorProcess;
  let env: Record<string, string>;
  let dir: string;
  const names = async () => (await executor.client.listTasks()).filter((task) => !task.deletionTimestamp).map((task) => task.name).sort();

  beforeAll(async () => {
    executor = await startExecutor({ args: ["--stop-grace-period=2s"] });
    env = { TASKCTL_EXECUTOR: executor.url };
    dir = await mkdtemp(join(tmpdir(), "taskctl-test-"));
    await executor.client.createTask({ name: "alpha", labels: { app: "billing", tier: "batch" }, spec: { process: { command: ["sh", "-c", "echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2"] } } });
    await executor.client.createTask({ name: "beta", labels: { app: "web" }, spec: { process: { command: ["sleep", "600"] } } });
    await executor.client.waitForTerminated("alpha", 30);
  });
  afterAll(async () => {
    await executor.kill();
  });

  describe("output formats", () => {
    it("list prints a table, filtered by -l as kubectl reads it", async () => {
      const all = await taskctl(["list"], { env });
      expect(all.code).toBe(0);
      const lines = all.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^NAME\s+STATE\s+EXIT\s+REASON\s+AGE\s+DURATION$/);
      expect(lines.slice(1).map((line) => line.split(/\s+/).slice(0, 2))).toEqual([
        ["alpha", "terminated"],
        ["beta", "running"],
      ]);
      for (const [selector, expected] of [
        ["app=billing", ["alpha"]],
        ["app!=billing", ["beta"]],
        ["app in (web,billing),!tier", ["beta"]],
        ["tier", ["alpha"]],
      ] as const) {
        const result = await taskctl(["list", "-l", selector, "-o", "name"], { env });
        expect(result.stdout, selector).toBe(expected.map((name) => `task/${name}\n`).join(""));
      }
    });

    it("-o json and -o yaml print the executor's objects unchanged; -o name and wide as kubectl", async () => {
      const listed = await executor.client.listTasks();
      const json = await taskctl(["list", "-o", "json"], { env });
      expect(JSON.parse(json.stdout)).toEqual(JSON.parse(JSON.stringify(listed)));
      const yaml = await taskctl(["list", "-o", "yaml"], { env });
      expect(parse(yaml.stdout)).toEqual(JSON.parse(JSON.stringify(listed)));
      const one = await taskctl(["get", "alpha", "-o", "json"], { env });
      expect(JSON.parse(one.stdout)).toEqual(JSON.parse(JSON.stringify(await executor.client.getTask("alpha"))));
      const name = await taskctl(["get", "alpha", "beta", "-o", "name"], { env });
      expect(name.stdout).toBe("task/alpha\ntask/beta\n");
      const wide = await taskctl(["get", "alpha", "-o", "wide"], { env });
      expect(wide.stdout).toMatch(/^NAME\s+STATE\s+EXIT\s+REASON\s+AGE\s+DURATION\s+LABELS\s+COMMAND\n/);
      expect(wide.stdout).toMatch(/alpha\s+terminated\s+0\s+Succeeded\s+\S+\s+\S+\s+app=billing,tier=batch\s+sh -c 'echo out-1; sleep 0.2; echo err-1 >&2; sleep 0.2; echo out-2'\n$/);
    });

    it.each(["json", "yaml"])("-o %s round-trips through apply: nothing is removed or changed", async (format) => {
      const before = await executor.client.listTasks();
      const listed = await taskctl(["list", "-o", format], { env });
      const file = join(dir, `round-trip.${format}`);
      await writeFile(file, listed.stdout);
      const applied = await taskctl(["apply", "-f", file], { env });
      expect(applied.stderr).toBe("");
      expect(applied.stdout).toBe("task/alpha unchanged\ntask/beta unchanged\n");
      expect(applied.code).toBe(0);
      const after = await executor.client.listTasks();
      expect(after.map((task) => [task.name, task.creationTimestamp])).toEqual(before.map((task) => [task.name, task.creationTimestamp]));
      const fromStdin = await taskctl(["apply", "-f", "-"], { env, input: listed.stdout });
      expect(fromStdin.stdout).toBe("task/alpha unchanged\ntask/beta unchanged\n");
    });
  });

  describe("logs", () => {
    it("prints output, one stream, the last lines, with timestamps, since a time", async () => {
      expect((await taskctl(["logs", "alpha"], { env })).stdout).toBe("out-1\nerr-1\nout-2\n");
      expect((await taskctl(["logs", "alpha", "--stream", "stderr"], { env })).stdout).toBe("err-1\n");
      expect((await taskctl(["logs", "alpha", "--tail", "1"], { env })).stdout).toBe("out-2\n");
      const stamped = (await taskctl(["logs", "alpha", "--timestamps", "--stream", "stdout"], { env })).stdout;
      expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\S+Z out-1\n\d{4}-\d\d-\d\dT\S+Z out-2\n$/);
      expect((await taskctl(["logs", "alpha", "--since-time", "2999-01-01T00:00:00Z"], { env })).stdout).toBe("");
      expect((await taskctl(["logs", "alpha", "--since", "1h"], { env })).stdout).toBe("out-1\nerr-1\nout-2\n");
    });

    it("-f follows a running task until it ends", async () => {
      await executor.client.createTask({ name: "ticker", spec: { process: { command: ["sh", "-c", "for i in 1 2 3; do echo tick $i; sleep 0.5; done"] } } });
      const result = await taskctl(["logs", "-f", "ticker"], { env });
      expect(result.code).toBe(0);
      expect(result.stdout).toBe("tick 1\ntick 2\ntick 3\n");
      await executor.client.deleteTask("ticker");
      await waitFor(async () => !(await names()).includes("ticker"), 15_000);
    });

    it("of a task that has not started: an error without -f, with -f it waits for the start", async () => {
      const queued = await startExecutor({ args: ["--max-concurrent-tasks=1"] });
      try {
        await queued.client.createTask({ name: "first", spec: { process: { command: ["sleep", "300"] } } });
        await queued.client.createTask({ name: "second", spec: { process: { command: ["echo", "second ran"] } } });
        const now = await taskctl(["logs", "second"], { env: { TASKCTL_EXECUTOR: queued.url } });
        expect(now.code).toBe(1);
        expect(now.stderr).toBe("error: task second has not started yet (waiting, Queued): no output; use -f to wait for it\n");
        const following = taskctl(["logs", "-f", "second"], { env: { TASKCTL_EXECUTOR: queued.url } });
        await new Promise((resolve) => setTimeout(resolve, 2000));
        expect(Object.keys((await queued.client.getTask("second")).status.state)).toEqual(["waiting"]);
        await queued.client.stopTask("first");
        const followed = await following;
        expect(followed.stdout).toBe("second ran\n");
        expect(followed.code).toBe(0);
      } finally {
        await queued.kill();
      }
    });
  });

  describe("errors: one line on stderr, exit code 1 (2 for usage)", () => {
    it("an unreachable executor names its URL", async () => {
      const url = `http://127.0.0.1:${await closedPort()}`;
      const result = await taskctl(["list"], { env: { TASKCTL_EXECUTOR: url } });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr).toMatch(new RegExp(`^error: cannot reach the executor at ${url} \\(GET /getTasks: connect ECONNREFUSED [^\\n]+\\)\\n$`));
      const flag = await taskctl(["--executor", url, "health"]);
      expect(flag.stderr).toContain(`cannot reach the executor at ${url}`);
    });

    it("an unknown task", async () => {
      for (const verb of [["get", "nope"], ["logs", "nope"], ["stop", "nope"], ["delete", "nope"]]) {
        const result = await taskctl(verb, { env });
        expect(result.code, verb.join(" ")).toBe(1);
        expect(result.stderr, verb.join(" ")).toMatch(/^error: (nope: )?NotFound: task nope not found\n$/);
      }
    });

    it("an invalid spec names the field (run) or the file, line, item and field (apply)", async () => {
      const run = await taskctl(["run", "bad", "--workdir", "relative", "--", "true"], { env });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error: InvalidRequest: .*spec\.process\.workingDir.*\n$/);
      const file = join(dir, "bad.yaml");
      await writeFile(file, "- name: fine\n  spec:\n    process:\n      command: ['true']\n- name: broken\n  spec:\n    process:\n      command: []\n");
      const apply = await taskctl(["apply", "-f", file], { env });
      expect(apply.code).toBe(1);
      expect(apply.stderr).toBe(`error: ${file}:8: item 1 (broken): spec.process.command: command must name the program to run\n`);
      const syntax = join(dir, "syntax.yaml");
      await writeFile(syntax, "- name: a\n  spec: {process: \n");
      expect((await taskctl(["apply", "-f", syntax], { env })).stderr).toMatch(new RegExp(`^error: ${syntax}:\\d+:\\d+: `));
      expect((await taskctl(["apply", "-f", join(dir, "missing.yaml")], { env })).stderr).toBe(`error: cannot read ${join(dir, "missing.yaml")}: no such file\n`);
      expect(await names()).toEqual(["alpha", "beta"]);
    });

    it("usage errors exit 2", async () => {
      for (const args of [["run", "x"], ["list", "--bogus"], ["bogus"], ["run", "--timeout", "soon", "x", "--", "true"], ["list", "-o", "xml"], ["list", "-l", "a in (b"], ["delete"]]) {
        const result = await taskctl(args, { env });
        expect(result.code, args.join(" ")).toBe(2);
        expect(result.stderr, args.join(" ")).toMatch(/^error: /);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
    });
  });

  describe("apply, stop and delete", () => {
    it("apply makes the executor's set equal the file and says first what it removes", async () => {
      const file = join(dir, "desired.yaml");
      await writeFile(file, "- name: beta\n  spec:\n    process:\n      command: [sleep, '600']\n- name: gamma\n  labels: {app: billing}\n  spec:\n    process:\n      command: [echo, gamma]\n");
      const dry = await taskctl(["apply", "--dry-run", "-f", file], { env });
      expect(dry.stdout).toBe("task/beta unchanged (dry run)\ntask/gamma created (dry run)\ntask/alpha removed (dry run)\n");
      expect(await names()).toEqual(["alpha", "beta"]);
      const changed = join(dir, "changed.yaml");
      await writeFile(changed, "- name: beta\n  spec:\n    process:\n      command: [sleep, '5']\n");
      const warned = await taskctl(["apply", "--dry-run", "-f", changed], { env });
      expect(warned.stderr).toContain("warning: task beta exists with another spec; the executor keeps it as it is (delete it first to run the new spec)\n");
      const applied = await taskctl(["apply", "-f", file], { env });
      expect(applied.code).toBe(0);
      expect(applied.stderr).toBe(`warning: tasks not in the file are stopped and removed from ${executor.url}: alpha\n`);
      expect(applied.stdout).toBe("task/beta unchanged\ntask/gamma created\ntask/alpha removed\n");
      await waitFor(async () => (await executor.client.listTasks()).every((task) => task.name !== "alpha"), 15_000);
      expect(await names()).toEqual(["beta", "gamma"]);
    });

    it("stop cancels and keeps the task; delete removes it", async () => {
      const stopped = await taskctl(["stop", "beta"], { env });
      expect(stopped.code).toBe(0);
      expect(stopped.stdout).toMatch(/\nbeta\s+terminated\s+143\s+Cancelled\s/);
      expect((await executor.client.getTask("beta")).status.state).toMatchObject({ terminated: { reason: "Cancelled" } });
      const deleted = await taskctl(["delete", "beta", "nope"], { env });
      expect(deleted.code).toBe(1);
      expect(deleted.stdout).toBe("task/beta deleted\n");
      expect(deleted.stderr).toBe("error: nope: NotFound: task nope not found\n");
      await waitFor(async () => !(await names()).includes("beta"), 15_000);
    });

    it("delete --all asks on a terminal, refuses when piped without --yes, and deletes with --yes", async () => {
      const piped = await taskctl(["delete", "--all"], { env });
      expect(piped.code).toBe(2);
      expect(piped.stderr).toBe("error: delete --all needs --yes when not on a terminal\n");
      expect(await names()).toEqual(["gamma"]);
      const all = await taskctl(["delete", "--all", "--yes"], { env });
      expect(all.stdout).toBe("task/gamma deleted\n");
      await waitFor(async () => (await names()).length === 0, 15_000);
    });
  });

  it("health, version and completion", async () => {
    const health = await taskctl(["health"], { env });
    expect(health.stdout).toMatch(new RegExp(`^${executor.url}: healthy, auth disabled`));
    const version = await taskctl(["version"], { env });
    expect(version.stdout).toBe(`Client Version: 0.1.0\nServer: ${executor.url} task-executor 0.1.0\n`);
    const bash = await taskctl(["completion", "bash"]);
    expect(bash.code).toBe(0);
    await executor.client.createTask({ name: "completed-name", spec: { process: { command: ["true"] } } });
    const script = `${bash.stdout}\nCOMP_WORDS=(taskctl lo); COMP_CWORD=1; _taskctl; echo "\${COMPREPLY[*]}"\nCOMP_WORDS=(taskctl logs --ta); COMP_CWORD=2; _taskctl; echo "\${COMPREPLY[*]}"\nCOMP_WORDS=(taskctl --executor ${executor.url} get comp); COMP_CWORD=4; _taskctl; echo "\${COMPREPLY[*]}"`;
    // Task names are completed by calling taskctl itself, as an installed one would be on the PATH.
    const path = await taskctlOnPath(dir);
    const completed = await runCommand("bash", ["-c", script], { env: { PATH: path } });
    expect(completed.stdout.split("\n").slice(0, 2)).toEqual(["logs", "--tail"]);
    expect(completed.stdout.split("\n")[2]).toBe("completed-name");
    expect((await taskctl(["completion", "fish"])).code).toBe(2);
  });

  it("zsh completes verbs, flags and task names with the zsh script, typed into an interactive zsh", { timeout: 120_000 }, async () => {
    const zsh = await taskctl(["completion", "zsh"]);
    expect(zsh.code).toBe(0);
    const script = join(dir, "_taskctl.zsh");
    await writeFile(script, zsh.stdout);
    const path = await taskctlOnPath(dir);
    await executor.client.createTask({ name: "zsh-completed", spec: { process: { command: ["true"] } } });
    const typed = ["taskctl lo", "taskctl logs --ta", `taskctl --executor ${executor.url} get zsh-comp`];
    expect(spawnSync("zsh", ["--version"]).error, "zsh is needed for this test (scripts/setup.sh --test installs it)").toBeUndefined();
    // compinit keeps its dump in $ZDOTDIR (else the home directory): the test's own directory.
    const run = await runCommand("zsh", ["-f", ZSH_COMPLETE, script, ...typed], { env: { PATH: path, HOME: dir, ZDOTDIR: dir }, timeoutMs: 90_000 });
    expect(run.code, run.stderr).toBe(0);
    const completed = run.stdout.split("\n").filter((line) => line.startsWith("completed: ")).map((line) => line.slice("completed: ".length).trimEnd());
    expect(completed).toHaveLength(3);
    expect(completed[0]).toMatch(/taskctl logs$/);
    expect(completed[1]).toMatch(/taskctl logs --tail$/);
    expect(completed[2]).toMatch(/get zsh-completed$/);
  });
});
