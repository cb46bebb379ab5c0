import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, type ExecutorProcess } from "@org/testkit";
import { shTask, terminatedOf } from "./support.js";

/**
 * Many creates in flight at once: each task starts only after its own create persisted it. A task started
 * earlier (by another create's scheduling pass) would find no task directory yet and end StartError, or run
 * before its record is durable, so that a crash at that moment loses it and a retried create runs it a second time.
 * Each task checks that its record is in the store (its journal or snapshot) when it runs.
 */
describe("concurrent creates", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--retain-per-group=0"] });
  });
  afterAll(async () => {
    await executor.kill();
    await rm(executor.dataDir, { recursive: true, force: true });
  });

  it("300 tasks created 16 at a time all run and end with their own exit code", { timeout: 120_000 }, async () => {
    const names = Array.from({ length: 300 }, (_, i) => `c-${i}`);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const i = next++;
        const journaled = `grep -qsF '"name":"${names[i]}",' ${executor.dataDir}/.journal.* ${executor.dataDir}/tasks.snapshot`;
        await executor.client.createTask(shTask(names[i]!, `if ${journaled}; then echo ${names[i]}; else echo "started before persisted"; fi; exit ${i % 100}`));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const wrong: string[] = [];
    for (let i = 0; i < names.length; i += 50) {
      await Promise.all(
        names.slice(i, i + 50).map(async (name, offset) => {
          const state = terminatedOf(await executor.client.waitForTerminated(name, 60));
          const exitCode = (i + offset) % 100;
          const output = (await executor.client.logs(name)).toString();
          if (state?.exitCode !== exitCode || state.reason !== (exitCode === 0 ? "Succeeded" : "Failed") || output !== `${name}\n`) {
            wrong.push(`${name}: ${state?.reason} ${state?.exitCode} ${state?.message ?? ""} ${JSON.stringify(output)}`);
          }
        }),
      );
    }
    expect(wrong, "tasks that did not run as created").toEqual([]);
  });
});
