import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXECUTOR_BIN } from "@org/testkit";

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [EXECUTOR_BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 15_000 });
}

describe("task-executor start-up", () => {
  it("--help lists every flag", () => {
    const result = run(["--help"]);
    expect(result.status).toBe(0);
    for (const flag of ["--data-dir", "--listen-addr", "--enable-sidecar-mode", "--main-container-name", "--enable-container-mode", "--cri-socket", "--reconcile-interval", "--max-concurrent-tasks", "--stop-grace-period", "--log-level", "--log-format", "--max-log-bytes-per-task", "--auth-token-file", "--volume"]) {
      expect(result.stdout).toContain(flag);
    }
    // Each flag shows its default and environment variable; durations say what a plain number means.
    const help = result.stdout.replace(/\s+/g, " ");
    for (const shown of ["(default: 500ms, env: RECONCILE_INTERVAL)", "(default: 10s, env: STOP_GRACE_PERIOD)", "(default: /var/lib/sandbox/tasks, env: DATA_DIR)", "(default: 10Mi, env: MAX_LOG_BYTES_PER_TASK)", "(default: 500, env: RETAIN_PER_GROUP)"]) {
      expect(help).toContain(shown);
    }
    expect(help).toContain("a plain number is seconds");
  });

  it("an invalid flag value fails naming the flag", () => {
    const result = run(["--reconcile-interval=soon"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("--reconcile-interval");
  });

  it("an unwritable data dir fails at start-up naming it", async () => {
    const parent = await mkdtemp(join(tmpdir(), "ro-"));
    const file = join(parent, "not-a-dir");
    await writeFile(file, "");
    await chmod(file, 0o400);
    const result = run([`--data-dir=${file}/tasks`, "--listen-addr=127.0.0.1:0"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`${file}/tasks`);
  });

  it("environment variables configure it and flags override them", () => {
    // A flag overrides its variable, so the bad LOG_FORMAT is never read; the bad flag value stops start-up.
    const result = run(["--log-format=text", "--stop-tasks-on-shutdown=maybe"], { LOG_FORMAT: "yaml" });
    expect(result.status).toBe(2);
    expect(result.stderr).not.toContain("--log-format");
    expect(result.stderr).toContain("--stop-tasks-on-shutdown");
    const fromEnv = run(["--listen-addr=127.0.0.1:0"], { LOG_FORMAT: "yaml" });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toContain("--log-format");
    expect(fromEnv.stderr).toContain("LOG_FORMAT");
  });
});
