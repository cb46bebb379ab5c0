import { spawnSync } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
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

/** Opens the data dir in a new process, as a restarted executor would: its records as [name, sequence], sorted. */
function scanInNewProcess(dataDir: string): { records: Array<[string, number]>; problems: string[] } {
  const script = `import { TaskStore } from ${JSON.stringify(STORE_DIST)};
const scan = await (await TaskStore.open(${JSON.stringify(dataDir)})).scan();
console.log(JSON.stringify({ records: scan.records.map((r) => [r.name, r.sequence]).sort(), problems: scan.problems }));`;
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  expect(result.status, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as { records: Array<[string, number]>; problems: string[] };
}

const RECORD = `{ version: 1, name: "durable", spec: { process: { command: ["true"] } }, legacyShape: false, origin: "api", runtime: "process", creationTimestamp: new Date(0).toISOString(), sequence: 0, state: { waiting: { reason: "Initialized" } } }`;

describe("TaskStore durability", () => {
  it("a create is acknowledged only after its journal line was fdatasynced and the new directory's entry in the data dir fsynced", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "store-durable-")), "data");
    const calls = await traceStore(`const store = await TaskStore.open(dataDir);\nawait store.create(${RECORD});\nprocess.exit(0); // no close: the record is only in the journal`, dataDir);
    const taskDir = join(dataDir, "durable");
    const made = calls.findIndex((call) => call.startsWith(`mkdir("${taskDir}"`));
    expect(made, calls.join("\n")).toBeGreaterThanOrEqual(0);
    const journalSynced = calls.findIndex((call, index) => index > made && call.startsWith("fdatasync(") && call.includes(`<${dataDir}/.journal.`));
    expect(journalSynced, `no fdatasync of the journal after creating ${taskDir}:\n${calls.join("\n")}`).toBeGreaterThan(made);
    const dataDirSynced = calls.findIndex((call, index) => index > made && call.startsWith("fsync(") && call.includes(`<${dataDir}>`));
    expect(dataDirSynced, `no fsync of ${dataDir} after creating ${taskDir}:\n${calls.join("\n")}`).toBeGreaterThan(made);
    // Gone right after the acknowledgement: the record is in the journal, and a reopened store has it.
    expect(scanInNewProcess(dataDir).records).toEqual([["durable", 0]]);
  });

  it("replays the journal a kill left: newest records win, removals finish, lost directories are made again, a torn last line is left out", async () => {
    const dataDir = join(await mkdtemp(join(tmpdir(), "store-replay-")), "data");
    const record = (name: string, sequence: number) => RECORD.replace('name: "durable"', `name: "${name}"`).replace("sequence: 0", `sequence: ${sequence}`);
    const script = `const store = await TaskStore.open(dataDir);
await store.create(${record("kept", 1)});
await Promise.all([store.save(${record("kept", 2)}), store.save(${record("kept", 3)})]);
await store.create(${record("removed", 4)});
await store.remove("removed");
await store.create(${record("dir-lost", 5)});
await store.save(${record("dir-lost", 6)});
process.kill(process.pid, "SIGKILL");`;
    const program = join(dataDir, "..", "run.mjs");
    await writeFile(program, `import { TaskStore } from ${JSON.stringify(STORE_DIST)};\nconst dataDir = process.argv[2];\n${script}\n`);
    const killed = spawnSync(process.execPath, [program, dataDir], { encoding: "utf8" });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    // As a power cut may leave it: the task directory whose creation was not yet on the disk, and half a line.
    await rm(join(dataDir, "dir-lost"), { recursive: true });
    const [segment] = (await readdir(dataDir)).filter((name) => name.startsWith(".journal."));
    await appendFile(join(dataDir, segment!), '{"put":{"version":1,"name":"ke');
    const { records, problems } = scanInNewProcess(dataDir);
    expect(records).toEqual([["dir-lost", 6], ["kept", 3]]);
    expect(problems).toEqual([expect.stringMatching(/last line of .*journal.* was cut short/)]);
    const left = await readdir(dataDir);
    expect(left).toContain("dir-lost");
    expect(left).not.toContain("removed");
    // What was replayed is in a new snapshot, the replayed segment is gone, and the store began a new one.
    const snapshot = (await readFile(join(dataDir, "tasks.snapshot"), "utf8")).trim().split("\n");
    expect(snapshot.slice(0, -1).map((line) => [JSON.parse(line).name, JSON.parse(line).sequence]).sort()).toEqual([["dir-lost", 6], ["kept", 3]]);
    expect(left.filter((name) => name.startsWith(".journal."))).toEqual([".journal.1"]);
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
