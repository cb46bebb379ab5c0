import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { waitFor } from "@org/testkit";
import { TaskExistsError, TaskStore, writeFileAtomic, type TaskRecord } from "../src/index.js";

function record(name: string, sequence = 0): TaskRecord {
  return {
    version: 1,
    name,
    spec: { process: { command: ["true"] } },
    legacyShape: false,
    origin: "api",
    runtime: "process",
    creationTimestamp: new Date(0).toISOString(),
    sequence,
    state: { waiting: { reason: "Initialized" } },
  };
}

/** The [name, sequence] pairs of a snapshot file's records, sorted; its trailer is checked by the store. */
function snapshotOf(text: string): Array<[string, number]> {
  const lines = text.trim().split("\n");
  expect(JSON.parse(lines.at(-1)!)).toMatchObject({ snapshot: { count: lines.length - 1 } });
  return lines
    .slice(0, -1)
    .map((line) => JSON.parse(line) as TaskRecord)
    .map((r): [string, number] => [r.name, r.sequence])
    .sort();
}

async function openStore() {
  const dir = await mkdtemp(join(tmpdir(), "store-"));
  return { dir, store: await TaskStore.open(dir) };
}

describe("TaskStore", () => {
  it("creates, saves and scans records back", async () => {
    const { store } = await openStore();
    await store.create(record("a", 1));
    await store.save({ ...record("a", 1), state: { running: { startedAt: "2026-01-01T00:00:00.000Z" } } });
    const scan = await store.scan();
    expect(scan.problems).toEqual([]);
    expect(scan.records).toHaveLength(1);
    expect(scan.records[0]!.state).toEqual({ running: { startedAt: "2026-01-01T00:00:00.000Z" } });
  });

  it("refuses a second task of the same name", async () => {
    const { store } = await openStore();
    await store.create(record("a"));
    await expect(store.create(record("a"))).rejects.toBeInstanceOf(TaskExistsError);
  });

  it("keeps the last of many concurrent saves", async () => {
    const { store } = await openStore();
    await store.create(record("a"));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.save(record("a", i))));
    expect((await store.scan()).records[0]!.sequence).toBe(19);
  });

  it("group commit: concurrent changes share fdatasyncs, and each resolves only once it is durable", async () => {
    const dir = await mkdtemp(join(tmpdir(), "store-"));
    let syncs = 0;
    const store = await TaskStore.open(dir, undefined, { fsync: () => syncs++ });
    const before = syncs;
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.create(record(`t${i}`, i))));
    // 50 creates, each needing its record and its directory's entry durable: far fewer flushes than 2 × 50.
    expect(syncs - before).toBeGreaterThan(0);
    expect(syncs - before).toBeLessThan(20);
    const journal = (await readdir(dir)).filter((name) => name.startsWith(".journal."));
    expect(journal).toHaveLength(1);
    const lines = (await readFile(join(dir, journal[0]!), "utf8")).trim().split("\n");
    expect(lines).toHaveLength(50);
    expect(JSON.parse(lines[0]!)).toMatchObject({ put: { name: expect.stringMatching(/^t\d+$/) } });
  });

  it("close waits for the changes in flight, writes a snapshot and drops the journal; a reopened store reads the same from it", async () => {
    const { dir, store } = await openStore();
    await store.create(record("a", 0));
    await store.create(record("b", 0));
    void store.save(record("a", 1));
    void store.save(record("a", 2));
    void store.save(record("b", 3));
    await store.close();
    expect(snapshotOf(await readFile(join(dir, "tasks.snapshot"), "utf8"))).toEqual([["a", 2], ["b", 3]]);
    expect((await readdir(dir)).filter((name) => name.startsWith(".journal."))).toEqual([]);
    await expect(store.save(record("a", 4))).rejects.toThrow(/closed/);
    const reopened = await TaskStore.open(dir);
    expect((await reopened.scan()).records.map((r) => [r.name, r.sequence]).sort()).toEqual([["a", 2], ["b", 3]]);
  });


  it("a snapshot written in several pieces is whole when read back, also of records that came from an earlier start", async () => {
    const { dir, store } = await openStore();
    // About 3 MiB of records: the snapshot is written in pieces of 1 MiB, each hashed as it goes.
    const big = (name: string, sequence: number): TaskRecord => ({ ...record(name, sequence), spec: { process: { command: ["echo", "x".repeat(30_000)] } } });
    for (let i = 0; i < 100; i++) await store.create(big(`big-${i}`, i));
    await store.close();
    const first = await TaskStore.open(dir);
    expect((await first.scan()).problems).toEqual([]);
    await first.create(big("after-restart", 100));
    // The 100 records read at open have no JSON kept yet: this snapshot serialises them, the new one it reuses.
    await first.close();
    const second = await TaskStore.open(dir);
    const scan = await second.scan();
    expect(scan.problems).toEqual([]);
    expect(scan.records.map((r) => r.sequence).sort((x, y) => x - y)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    expect(scan.records.find((r) => r.name === "big-7")).toEqual(big("big-7", 7));
    expect(snapshotOf(await readFile(join(dir, "tasks.snapshot"), "utf8"))).toHaveLength(101);
  });
  it("retires a full journal segment into a snapshot and goes on in the next one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "store-"));
    const store = await TaskStore.open(dir, undefined, {}, { segmentLimitBytes: 4096 });
    for (let i = 0; i < 10; i++) await store.create(record(`t${i}`, i));
    for (let round = 1; round <= 10; round++) await Promise.all(Array.from({ length: 10 }, (_, i) => store.save(record(`t${i}`, round * 100 + i))));
    await waitFor(async () => (await readdir(dir)).filter((name) => name.startsWith(".journal.")).length === 1 && !(await readdir(dir)).includes(".journal.0"));
    // The snapshot holds what the retired segments did; the newest changes may still be in the active segment only.
    expect(snapshotOf(await readFile(join(dir, "tasks.snapshot"), "utf8")).find(([name]) => name === "t0")![1]).toBeGreaterThanOrEqual(100);
    expect((await store.scan()).records.map((r) => r.sequence).sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => 1000 + i));
  });

  it("retires a quiet journal into a snapshot", async () => {
    const dir = await mkdtemp(join(tmpdir(), "store-"));
    const store = await TaskStore.open(dir, undefined, {}, { idleCheckpointMs: 50 });
    await store.create(record("quiet", 7));
    await waitFor(async () => !(await readdir(dir)).includes(".journal.0"));
    expect(snapshotOf(await readFile(join(dir, "tasks.snapshot"), "utf8"))).toEqual([["quiet", 7]]);
    expect((await readdir(dir)).filter((name) => name.startsWith(".journal."))).toEqual([".journal.1"]);
  });

  it("reads a data dir of an earlier version (a task.json per task) and from then on keeps it in the snapshot", async () => {
    const dir = await mkdtemp(join(tmpdir(), "store-"));
    await mkdir(join(dir, "old"));
    await writeFile(join(dir, "old", "task.json"), JSON.stringify(record("old", 3)));
    const first = await TaskStore.open(dir);
    expect((await first.scan()).records.map((r) => r.name)).toEqual(["old"]);
    expect(snapshotOf(await readFile(join(dir, "tasks.snapshot"), "utf8"))).toEqual([["old", 3]]);
    await first.save(record("old", 4));
    await first.close();
    const second = await TaskStore.open(dir);
    expect((await second.scan()).records.map((r) => [r.name, r.sequence])).toEqual([["old", 4]]);
  });

  it("keeps what is still valid of a snapshot that is not whole, and says so", async () => {
    const { dir, store } = await openStore();
    await store.create(record("a", 1));
    await store.create(record("b", 2));
    await store.close();
    const text = await readFile(join(dir, "tasks.snapshot"), "utf8");
    // The disk changed one record into something that is no record any more.
    await writeFile(join(dir, "tasks.snapshot"), text.replace('"name":"b","spec":', '"name":"b","spec":7,"x":'));
    const reopened = await TaskStore.open(dir);
    const scan = await reopened.scan();
    expect(scan.problems[0]).toMatch(/tasks.snapshot is not whole \(its checksum does not match\); kept the 1 record/);
    expect(scan.records.map((r) => r.name)).toEqual(["a"]);
    // The directory no record claims any more is set aside, not taken for a task.
    expect(await readdir(join(dir, ".quarantine"))).toHaveLength(1);
  });

  it("keeps tasks with names longer than a file name in a derived directory, and finds, scans and removes them", async () => {
    const { dir, store } = await openStore();
    const long = `${"x".repeat(253)}-${"y".repeat(200)}-12`;
    const sibling = `${"x".repeat(253)}-${"y".repeat(200)}-13`;
    const longest = "z".repeat(512);
    for (const [index, name] of [long, sibling, longest, "x".repeat(253)].entries()) await store.create(record(name, index));
    const entries = (await readdir(dir)).filter((entry) => !entry.startsWith("."));
    expect(entries).toHaveLength(4);
    for (const entry of entries) expect(Buffer.byteLength(entry)).toBeLessThanOrEqual(255);
    expect(store.taskDir(long)).not.toBe(store.taskDir(sibling));
    const scan = await store.scan();
    expect(scan.problems).toEqual([]);
    expect(scan.records.map((r) => r.name).sort()).toEqual([long, sibling, longest, "x".repeat(253)].sort());
    await writeFile(join(store.taskDir(long), "stdout.log"), "x");
    expect(await store.diskUsage(long)).toBe(1);
    for (const name of [long, longest, "x".repeat(253)]) await store.remove(name);
    expect((await store.scan()).records.map((r) => r.name)).toEqual([sibling]);
  });

  it("sets aside a derived directory whose task.json names a task that does not map to it", async () => {
    const { dir, store } = await openStore();
    const long = "q".repeat(300);
    // A data dir of an earlier version: a task.json per task.
    await mkdir(store.taskDir(long));
    await writeFile(join(store.taskDir(long), "task.json"), JSON.stringify(record("q".repeat(301))));
    const scan = await store.scan();
    expect(scan.records).toEqual([]);
    expect(scan.problems[0]).toMatch(/whose directory is not/);
    expect(await readdir(join(dir, ".quarantine"))).toHaveLength(1);
  });

  it("never builds a path outside the data dir", async () => {
    const { store } = await openStore();
    for (const name of ["..", "../x", "a/b", ".", ""]) expect(() => store.taskDir(name)).toThrow();
  });

  it("moves corrupt, half-written and foreign task.json aside and reports each, without failing", async () => {
    const { dir, store } = await openStore();
    // A data dir of an earlier version: a task.json per task.
    await mkdir(join(dir, "good"));
    await writeFile(join(dir, "good", "task.json"), JSON.stringify(record("good")));
    await mkdir(join(dir, "truncated"));
    await writeFile(join(dir, "truncated", "task.json"), '{"version":1,"name":"trunc');
    await mkdir(join(dir, "wrong-shape"));
    await writeFile(join(dir, "wrong-shape", "task.json"), '{"hello":"world"}');
    await mkdir(join(dir, "no-file"));
    await mkdir(join(dir, "other-name"));
    await writeFile(join(dir, "other-name", "task.json"), JSON.stringify(record("good")));
    await writeFile(join(dir, "good", "task.json.tmp-abc"), "partial");
    const scan = await store.scan();
    expect(scan.records.map((r) => r.name)).toEqual(["good"]);
    expect(scan.problems).toHaveLength(5);
    expect(scan.problems.join("\n")).toMatch(/truncated: task.json is not valid JSON/);
    expect(await readdir(join(dir, "good"))).toEqual(["task.json"]);
    expect((await readdir(join(dir, ".quarantine"))).length).toBe(4);
    // A second scan finds nothing left to repair.
    expect((await store.scan()).problems).toEqual([]);
  });

  it("removes a task with all its files and frees the name at once", async () => {
    const { dir, store } = await openStore();
    await store.create(record("gone"));
    await writeFile(join(store.taskDir("gone"), "stdout.log"), "x");
    await store.remove("gone");
    expect(await readdir(dir)).not.toContain("gone");
    await store.create(record("gone"));
  });

  it("fails to open an unwritable data dir with a message naming it", async () => {
    const base = await mkdtemp(join(tmpdir(), "store-"));
    await writeFile(join(base, "file"), "");
    await expect(TaskStore.open(join(base, "file", "tasks"))).rejects.toThrow(join(base, "file", "tasks"));
  });
});

describe("writeFileAtomic", () => {
  it("replaces content whole and leaves no temp file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "atomic-"));
    const path = join(dir, "f.json");
    await writeFileAtomic(path, "one");
    await writeFileAtomic(path, "two");
    expect(await readFile(path, "utf8")).toBe("two");
    expect(await readdir(dir)).toEqual(["f.json"]);
  });
});
