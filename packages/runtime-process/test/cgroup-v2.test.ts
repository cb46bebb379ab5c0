// cgroup v2 for real: a cgroup2 hierarchy mounted in a private mount namespace, a child process standing in for the
// executor inside a cgroup of its own (its pod's). The task cgroups' parent must be under that cgroup, not off the
// root, with the executor's own processes moved into a leaf (v2 allows no processes in a cgroup that delegates).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** Runs an ES module in a new private mount namespace (as root) and returns its JSON result. */
async function inMountNamespace(source: string): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), "cgroup-v2-"));
  const program = join(dir, "child.mjs");
  await writeFile(program, source);
  const result = spawnSync("unshare", ["--mount", "--propagation=private", process.execPath, program, dir], { encoding: "utf8", timeout: 60_000 });
  expect(result.status, `the namespace child failed (cgroup v2 needs root and unshare --mount):\n${result.stderr}\n${result.stdout}`).toBe(0);
  const line = result.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as Record<string, unknown>;
}

const PRELUDE = `
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
const work = process.argv[2];
const mnt = join(work, "cg2");
execFileSync("mkdir", ["-p", mnt]);
execFileSync("mount", ["-t", "cgroup2", "none", mnt]);
const own = () => readFileSync("/proc/self/cgroup", "utf8").split("\\n").find((l) => l.startsWith("0::")).slice(3);
const cgroupOf = (pid) => readFileSync("/proc/" + pid + "/cgroup", "utf8").split("\\n").find((l) => l.startsWith("0::")).slice(3);
`;

describe("cgroup v2 (a real cgroup2 hierarchy in a private mount namespace)", () => {
  it("task cgroups nest under the executor's own cgroup, the executor moves into a leaf, and a restart does not nest deeper", async () => {
    const pod = `pod-test-${randomBytes(4).toString("hex")}`;
    const result = await inMountNamespace(`${PRELUDE}
import { prepareV2Parent, V2_SELF_LEAF } from ${JSON.stringify(DIST)};
const pod = join(mnt, ${JSON.stringify(pod)});
mkdirSync(pod);
writeFileSync(join(pod, "cgroup.procs"), String(process.pid));
const out = { before: own() };
// The controllers task limits need are not given to v2 on every machine (a v1 hierarchy may hold them); the
// placement is what is checked here, with whatever the pod's cgroup offers.
const offered = readFileSync(join(pod, "cgroup.controllers"), "utf8").trim().split(/\\s+/).filter(Boolean);
const wanted = ["memory", "cpu", "pids"].filter((c) => offered.includes(c));
out.controllers = wanted;
const parent = await prepareV2Parent(mnt, pod, wanted);
out.parent = parent.slice(mnt.length);
out.after = own();
out.podProcs = readFileSync(join(pod, "cgroup.procs"), "utf8").trim();
out.subtree = readFileSync(join(parent, "cgroup.subtree_control"), "utf8").trim();
// A task cgroup below the parent, and a process in it.
const task = join(parent, "task-r1");
mkdirSync(task);
const sleeper = spawn("sleep", ["30"], { stdio: "ignore" });
writeFileSync(join(task, "cgroup.procs"), String(sleeper.pid));
out.task = cgroupOf(sleeper.pid);
// An executor started again from inside the leaf uses the same parent.
out.again = (await prepareV2Parent(mnt, join(mnt, own()), wanted)).slice(mnt.length);
sleeper.kill("SIGKILL");
await new Promise((resolve) => sleeper.once("exit", resolve));
writeFileSync(join(mnt, "cgroup.procs"), String(process.pid));
for (const dir of [task, parent, join(pod, V2_SELF_LEAF), pod]) if (existsSync(dir)) rmdirSync(dir);
execFileSync("umount", [mnt]);
console.log(JSON.stringify(out));
`);
    expect(result.before).toBe(`/${pod}`);
    expect(result.parent).toBe(`/${pod}/task-executor`);
    expect(result.after).toBe(`/${pod}/executor`);
    expect(result.podProcs).toBe("");
    expect(result.subtree).toBe((result.controllers as string[]).join(" "));
    expect(result.task).toBe(`/${pod}/task-executor/task-r1`);
    expect(result.again).toBe(`/${pod}/task-executor`);
  });

  it("detection on a machine whose only hierarchy is cgroup2 uses the executor's cgroup, or names the missing controllers", async () => {
    const pod = `pod-detect-${randomBytes(4).toString("hex")}`;
    const result = await inMountNamespace(`${PRELUDE}
import { detectCgroups } from ${JSON.stringify(DIST)};
// Only cgroup2 stays visible in this namespace: the v1 hierarchies (if any) are unmounted here alone.
const mountinfo = readFileSync("/proc/self/mountinfo", "utf8").split("\\n");
const v1 = mountinfo.filter((l) => / - cgroup /.test(l)).map((l) => l.split(" ")[4]);
for (const point of v1.reverse()) execFileSync("umount", ["-l", point]);
const others = mountinfo.filter((l) => / - cgroup2 /.test(l)).map((l) => l.split(" ")[4]).filter((p) => p !== mnt);
for (const point of others) execFileSync("umount", ["-l", point]);
const pod = join(mnt, ${JSON.stringify(pod)});
mkdirSync(pod);
writeFileSync(join(pod, "cgroup.procs"), String(process.pid));
const logged = [];
const logger = { error: (m, f) => logged.push({ m, f }), warn: (m, f) => logged.push({ m, f }), info: (m, f) => logged.push({ m, f }), debug: () => {} };
const support = await detectCgroups(logger);
const out = { support: support ?? null, logged, offered: readFileSync(join(pod, "cgroup.controllers"), "utf8").trim() };
writeFileSync(join(mnt, "cgroup.procs"), String(process.pid));
for (const dir of [join(pod, "task-executor"), join(pod, "executor"), pod]) if (existsSync(dir)) rmdirSync(dir);
console.log(JSON.stringify(out));
`);
    const offered = String(result.offered).split(/\s+/);
    if (["memory", "cpu", "pids"].every((controller) => offered.includes(controller))) {
      // A machine whose v2 hierarchy has the controllers: the parent is under the pod's cgroup, never the root.
      expect(result.support).toMatchObject({ version: "v2", parent: expect.stringMatching(new RegExp(`/${pod}/task-executor$`)) });
    } else {
      // Here the controllers are bound to v1 hierarchies: detection refuses and says which are missing.
      expect(result.support).toBeNull();
      expect(JSON.stringify(result.logged)).toMatch(/missing/);
      expect(JSON.stringify(result.logged)).toContain(pod);
    }
  });
});
