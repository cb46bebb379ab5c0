import { readFile } from "node:fs/promises";
import { afterAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { shTask, waitTerminated } from "./helpers.js";

describe("executor restart (SIGKILL) loses nothing", () => {
  const executors: ExecutorProcess[] = [];
  afterAll(async () => {
    for (const executor of executors) await executor.kill();
  });

  it("tasks running across a SIGKILL end with their true exit codes and their output intact", async () => {
    const first = await startExecutor({ args: ["--max-concurrent-tasks=4"] });
    executors.push(first);
    const tasks = [
      shTask("done-before", "echo early; exit 7"),
      shTask("spans-restart", "echo before; sleep 2; echo after; exit 3"),
      shTask("prints", "for i in $(seq 1 30); do echo line $i; sleep 0.05; done; exit 0"),
      shTask("long", "sleep 3; echo finished >&2; exit 9"),
      shTask("queued-1", "echo q1; exit 11"),
      shTask("queued-2", "echo q2; exit 12"),
    ];
    for (const task of tasks) await first.client.createTask(task);
    await waitTerminated(first, "done-before");
    await waitFor(async () => (await first.client.logs("spans-restart")).toString() === "before\n");
    await first.kill();

    const second = await first.restart();
    executors.push(second);
    const expected: Record<string, [number, string]> = {
      "done-before": [7, "early\n"],
      "spans-restart": [3, "before\nafter\n"],
      prints: [0, Array.from({ length: 30 }, (_, i) => `line ${i + 1}\n`).join("")],
      long: [9, "finished\n"],
      "queued-1": [11, "q1\n"],
      "queued-2": [12, "q2\n"],
    };
    for (const [name, [exitCode, output]] of Object.entries(expected)) {
      const state = await waitTerminated(second, name, 30_000);
      expect(state.exitCode, name).toBe(exitCode);
      expect((await second.client.logs(name)).toString(), name).toBe(output);
    }
    // Nothing ran twice: every task directory holds exactly one keeper's pid file, with its pid and exit records.
    for (const name of Object.keys(expected)) {
      const pid = await readFile(`${second.dataDir}/${name}/pid`, "utf8");
      expect(pid.split("\n").map((line) => Object.keys(JSON.parse(line || "{}")).includes("exitCode")), name).toEqual([false, true, false]);
    }
    expect((await second.client.logs("done-before")).toString()).toBe("early\n");
  });
});
