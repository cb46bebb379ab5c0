import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { namespaceSupport, startMainContainer, type MainContainerFixture } from "@org/testkit";
import { findMainContainer, mainContainerCandidates, scanProcesses, type ProcessInfo } from "../src/discovery.js";
import { findHostProcess, killQuietly, loudSkip } from "./helpers.js";

const SELF = 100;
const main = (name = "main") => `SANDBOX_MAIN_CONTAINER=${name}`;
const proc = (pid: number, ppid: number, startTime: number, env: string[]): ProcessInfo => ({ pid, ppid, startTime, env });

describe("mainContainerCandidates", () => {
  it.each([
    ["nothing carries the variable", [proc(1, 0, 1, ["PATH=/bin"]), proc(7, 1, 5, [])], []],
    ["the oldest wins", [proc(30, 1, 900, [main()]), proc(20, 1, 500, [main()]), proc(25, 1, 700, [main()])], [20, 25, 30]],
    ["equal start times: the smaller pid wins", [proc(31, 1, 500, [main()]), proc(29, 1, 500, [main()])], [29, 31]],
    ["another container's name", [proc(20, 1, 5, [main("other")]), proc(21, 1, 6, [main()])], [21]],
    ["a name that only starts alike", [proc(20, 1, 5, [main("main2")]), proc(21, 1, 6, [main()])], [21]],
    ["the first of duplicate entries counts", [proc(20, 1, 5, [main("other"), main()])], []],
    ["tasks (marked) are never picked", [proc(20, 1, 5, [main(), "TASK_EXECUTOR_TASK=t1"]), proc(21, 1, 9, [main()])], [21]],
    ["the executor itself is not picked", [proc(SELF, 1, 1, [main()]), proc(21, 1, 9, [main()])], [21]],
    [
      "nor its descendants, however deep",
      [proc(SELF, 1, 1, []), proc(101, SELF, 2, [main()]), proc(102, 101, 3, [main()]), proc(21, 1, 9, [main()])],
      [21],
    ],
    ["a parent cycle does not hang", [proc(50, 51, 1, [main()]), proc(51, 50, 2, [main()])], [50, 51]],
    ["an unreadable environment is no match", [proc(20, 1, 5, []), proc(21, 1, 6, [main()])], [21]],
  ])("%s", (_, processes, expected) => {
    expect(mainContainerCandidates(processes, "main", SELF).map((info) => info.pid)).toEqual(expected);
  });
});

const unsupported = await namespaceSupport();
if (unsupported) loudSkip("discovery with a real main container", unsupported);

describe.skipIf(unsupported !== undefined)("findMainContainer with a real main container", () => {
  const name = `main-${randomBytes(4).toString("hex")}`;
  const extraPids: number[] = [];
  let fixture: MainContainerFixture;
  let olderTask: number;
  let olderChild: number;

  beforeAll(async () => {
    // Older than the main container but not eligible: a task (marked), detached from the test like a task
    // left by an earlier executor, and a plain child of the test (the executor's descendant).
    const tag = String(randomInt(10_000_000, 99_999_999));
    spawn("setsid", ["--fork", "env", "-i", `SANDBOX_MAIN_CONTAINER=${name}`, "TASK_EXECUTOR_TASK=t", "sleep", `301.${tag}`], {
      stdio: "ignore",
    });
    olderTask = await findHostProcess((cmdline) => cmdline === `sleep 301.${tag}`);
    extraPids.push(olderTask);
    const child = spawn("sleep", [`302.${tag}`], {
      stdio: "ignore",
      env: { PATH: process.env.PATH, SANDBOX_MAIN_CONTAINER: name },
    });
    child.unref();
    olderChild = child.pid ?? 0;
    extraPids.push(olderChild);
    await new Promise((done) => setTimeout(done, 50));
    fixture = await startMainContainer({ name, user: { uid: 1234, gid: 2345 } });
  }, 30_000);

  afterAll(async () => {
    for (const pid of extraPids) killQuietly(pid);
    await fixture?.stop();
  });

  it("picks the main process, not older tasks, the executor's children or the main process's children", async () => {
    const processes = await scanProcesses();
    const startOf = (pid: number) => processes.find((info) => info.pid === pid)?.startTime ?? Infinity;
    // The excluded ones really are older: the oldest-wins rule alone would have picked them.
    expect(startOf(olderTask)).toBeLessThan(startOf(fixture.pid));
    expect(startOf(olderChild)).toBeLessThan(startOf(fixture.pid));
    const found = await findMainContainer(name);
    expect(found?.pid).toBe(fixture.pid);
    expect([olderTask, olderChild]).not.toContain(found?.pid);
    expect(found).toMatchObject({ uid: 1234, gid: 2345 });
    expect(found?.env).toContain(`MAIN_MARKER=${fixture.marker}`);
  });

  it("finds nothing under a name no process carries", async () => {
    expect(await findMainContainer(`${name}-absent`)).toBeUndefined();
  });

  it("follows a restarted main container (resolved on every call)", async () => {
    const replacement = await startMainContainer({ name });
    try {
      await fixture.stop();
      expect((await findMainContainer(name))?.pid).toBe(replacement.pid);
    } finally {
      fixture = replacement;
    }
  }, 30_000);
});
