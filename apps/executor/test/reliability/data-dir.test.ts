import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXECUTOR_BIN, startExecutor } from "@org/testkit";
import { shTask, waitTerminated } from "../integration/helpers.js";

/** Runs the built executor (optionally through a wrapper such as `unshare`) and reports how it ended and how fast. */
function runExecutor(dataDir: string, wrapper: string[] = []): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  const argv = [...wrapper, process.execPath, EXECUTOR_BIN, `--data-dir=${dataDir}`, "--listen-addr=127.0.0.1:0"];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.resume();
  return new Promise((resolve) => {
    // A hanging executor is killed well after the bound, so the test reports its exit instead of timing out.
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

// A cold Node start with the executor's imports takes from half a second to several seconds on a loaded 2-core VM;
// the bound leaves room for that. A hanging start (the defect: a mkdir loop at 100 % CPU) never exits at all.
const START_BUDGET_MS = 15_000;

describe("a bad data dir fails at start-up, naming it", () => {
  it("a path under /proc", async () => {
    const dataDir = "/proc/no-such-dir/tasks";
    const result = await runExecutor(dataDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(dataDir);
    expect(result.ms).toBeLessThan(START_BUDGET_MS);
  });

  it("a path through a regular file", async () => {
    const parent = await mkdtemp(join(tmpdir(), "data-dir-file-"));
    await writeFile(join(parent, "file"), "");
    for (const dataDir of [join(parent, "file"), join(parent, "file", "tasks")]) {
      const result = await runExecutor(dataDir);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(dataDir);
      expect(result.ms).toBeLessThan(START_BUDGET_MS);
    }
  });

  it("a directory on a read-only mount (root may write any mode, so the mount is what makes it read-only)", async () => {
    const parent = await mkdtemp(join(tmpdir(), "data-dir-ro-"));
    const dataDir = join(parent, "tasks");
    await mkdir(dataDir);
    const probe = spawnSync("unshare", ["--mount", "--propagation=private", "true"]);
    expect(probe.status, `unshare --mount is needed for this test: ${probe.stderr}`).toBe(0);
    // In a private mount namespace the dir is bind-mounted read-only onto itself, then the executor runs there.
    const wrapper = ["unshare", "--mount", "--propagation=private", "sh", "-c", `mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"`, dataDir];
    const result = await runExecutor(dataDir, wrapper);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(dataDir);
    expect(result.stderr).toMatch(/read-only|EROFS/i);
    expect(result.ms).toBeLessThan(START_BUDGET_MS);
    // Nothing was left in it from outside the namespace's view either.
    expect(await readdir(dataDir)).toEqual([]);
  });

  it("a missing data dir with missing parents is created and works", async () => {
    const parent = await mkdtemp(join(tmpdir(), "data-dir-new-"));
    const executor = await startExecutor({ dataDir: join(parent, "a", "b", "tasks") });
    try {
      await executor.client.createTask(shTask("made", "echo ok"));
      expect((await waitTerminated(executor, "made")).exitCode).toBe(0);
    } finally {
      await executor.stop();
    }
  });
});
