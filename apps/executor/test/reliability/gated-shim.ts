import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TASK_SHIM_SOURCE } from "@org/runtime-process";

/**
 * A test build of the task shim (`-DSHIM_TEST_START_GATE`) whose keeper blocks before it owns its task until the
 * FIFO `start-gate` in the task directory is opened for reading: a keeper stuck in its file system, on demand
 * (a task directory without that FIFO runs as usual). Passed to the executor with `--task-shim-path`. Built once
 * per version of the source, under the OS temp dir; the binary is named `task-shim` like the real one.
 */
export function gatedTaskShim(): string {
  const source = readFileSync(TASK_SHIM_SOURCE);
  const dir = join(tmpdir(), `task-shim-gated-${createHash("sha256").update(source).digest("hex").slice(0, 16)}`);
  const path = join(dir, "task-shim");
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const building = `${path}.${process.pid}.tmp`;
  execFileSync("cc", ["-O2", "-DSHIM_TEST_START_GATE", "-o", building, TASK_SHIM_SOURCE], { stdio: "inherit" });
  renameSync(building, path);
  return path;
}
