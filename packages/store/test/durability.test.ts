import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const STORE_DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/**
 * Runs a store operation in a child process under strace and returns the file-system calls it made, in order, with
 * the paths of the file descriptors (strace -y). What matters for a power cut is which entries were fsynced when.
 */
async function traceStore(script: string, dataDir: string): Promise<string[]> {
  const work = await mkdtemp(join(tmpdir(), "store-trace-"));
  const program = join(work, "run.mjs");
  const trace = join(work, "trace");
  await writeFile(program, `import { TaskStore } from ${JSON.stringify(STORE_DIST)};\nconst dataDir = process.argv[2];\n${script}\n`);
  const result = spawnSync("strace", ["-f", "-y", "-qq", "-e", "trace=mkdir,mkdirat,fsync,fdatasync,rename,renameat,renameat2", "-o", trace, process.execPath, program, dataDir], { encoding: "utf8", timeout: 30_000 });
  expect(result.status, `strace is needed for this test (scripts/setup.sh --test installs it): ${result.stderr}`).toBe(0);
  // Calls interrupted by another thread's line are printed as "<unfinished ...>" and "<... resumed>"; join them.
  const lines = (await readFile(trace, "utf8")).split("\n").filter(Boolean);
  return lines.filter((line) => !line.includes("resumed>")).map((line) => line.replace(/^\d+\s+/, "").replace(/ <unfinished \.\.\.>$/, ""));
}

const RECORD = `{ version: 1, name: "durable", spec: { process: { command: ["true"] } }, legacyShape: false, origin: "api", runtime: "process", creationTimestamp: new Date(0).toISOString(), sequence: 0, state: { waiting: { reason: "Initialized" } } }`;

describe("TaskStore durability", () => {
  it("a create is acknowledged only after the new task directory's entry in the data dir was fsynced", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "store-durable-")), "data");
    const calls = await traceStore(`const store = await TaskStore.open(dataDir);\nawait store.create(${RECORD});`, dataDir);
    const taskDir = join(dataDir, "durable");
    const made = calls.findIndex((call) => call.startsWith(`mkdir("${taskDir}"`));
    expect(made, calls.join("\n")).toBeGreaterThanOrEqual(0);
    const dataDirSynced = calls.findIndex((call, index) => index > made && call.startsWith("fsync(") && call.includes(`<${dataDir}>)`));
    expect(dataDirSynced, `no fsync of ${dataDir} after creating ${taskDir}:\n${calls.join("\n")}`).toBeGreaterThan(made);
    const recordInPlace = calls.findIndex((call) => /^rename(at2?)?\(/.test(call) && call.includes(`${taskDir}/task.json"`));
    expect(recordInPlace).toBeGreaterThan(made);
    const taskDirSynced = calls.findIndex((call, index) => index > recordInPlace && call.startsWith("fsync(") && call.includes(`<${taskDir}>)`));
    expect(taskDirSynced).toBeGreaterThan(recordInPlace);
  });

  it("opening a data dir under /proc fails at once instead of looping in mkdir", { timeout: 60_000 }, async () => {
    const started = Date.now();
    const result = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `import { TaskStore } from ${JSON.stringify(STORE_DIST)};\nawait TaskStore.open("/proc/no-such-dir/tasks").then(() => process.exit(0), (error) => { console.error(error.message); process.exit(3); });`],
      { encoding: "utf8", timeout: 30_000 },
    );
    // Killed by the timeout (status null) when it loops; the bound is generous for a loaded machine.
    expect(result.status).toBe(3);
    expect(result.stderr).toContain("/proc/no-such-dir/tasks");
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
