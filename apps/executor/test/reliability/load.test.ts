import http from "node:http";
import { cpus } from "node:os";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Task } from "@org/task-core";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { percentiles, rawRequest, REPO_ROOT, SeededRandom, seedFrom, shTask, terminatedOf, type RawReply } from "./support.js";

/**
 * 200 concurrent clients over loopback for LOAD_SECONDS (default 20): creates, gets, lists, logs and deletes on
 * executor A, setTasks on executor B. setTasks replaces the whole managed set, so mixing it into A would make the
 * other clients' tasks disappear; instead exactly one client owns all setTasks traffic, on its own executor B, and
 * checks what setTasks promises (every desired task is managed, every other one is being deleted). The other 199
 * clients share A. Afterwards: no unexpected status, no lost task, true exit codes and output; latency
 * percentiles per operation are printed, and written to the tracked bench/results/load.json only with
 * RECORD_LOAD_RESULTS=1 (an ordinary test run leaves the working tree as it was).
 */
const SECONDS = Number(process.env.LOAD_SECONDS ?? 20);
const CLIENTS = 200;
/** Bounds the number of tasks (processes) created on A. */
const MAX_TASKS = 100 * SECONDS;
const SEED = seedFrom("LOAD_SEED");
const SYNC_POOL = 30;

const syncTask = (k: number) => shTask(`sync-${k}`, `echo sync-${k}; sleep 0.2; exit ${k % 50}`);

describe(`load: ${CLIENTS} concurrent clients for ${SECONDS} s (seed ${SEED})`, () => {
  const executors: ExecutorProcess[] = [];
  afterAll(async () => {
    for (const executor of executors) {
      await executor.kill();
      await rm(executor.dataDir, { recursive: true, force: true });
    }
  });

  it("answers every request as expected, loses no task and records latency percentiles", { timeout: (SECONDS + 240) * 1000 }, async () => {
    const a = await startExecutor({ args: ["--retain-per-group=0"] });
    const b = await startExecutor({ args: ["--retain-per-group=0", "--stop-grace-period=1s"] });
    executors.push(a, b);
    const agentA = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const agentB = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const latencies = new Map<string, number[]>();
    const errors: string[] = [];
    const tasks = new Map<string, { exitCode: number; deleted: boolean }>();
    let requests = 0;

    async function call(op: string, executor: ExecutorProcess, agent: http.Agent, method: string, path: string, expected: number[], body?: unknown): Promise<RawReply | undefined> {
      const started = performance.now();
      requests++;
      try {
        const reply = await rawRequest(executor.url, {
          method,
          path,
          agent,
          timeoutMs: 60_000,
          ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
        });
        const list = latencies.get(op) ?? [];
        list.push(performance.now() - started);
        latencies.set(op, list);
        if (!expected.includes(reply.status)) errors.push(`${op} ${method} ${path}: ${reply.status} ${reply.body.toString().slice(0, 200)}`);
        return reply;
      } catch (error) {
        errors.push(`${op} ${method} ${path}: ${(error as Error).message}`);
        return undefined;
      }
    }

    const deadline = Date.now() + SECONDS * 1000;

    async function clientOnA(index: number): Promise<void> {
      const rng = new SeededRandom(SEED + index);
      const own: string[] = [];
      let serial = 0;
      while (Date.now() < deadline) {
        const roll = rng.int(1, 100);
        const pick = own.length ? own[rng.int(0, own.length - 1)]! : undefined;
        if (roll <= 30 && tasks.size < MAX_TASKS) {
          const name = `c${index}-${serial++}`;
          const exitCode = rng.int(0, 100);
          tasks.set(name, { exitCode, deleted: false });
          const reply = await call("create", a, agentA, "POST", "/tasks", [201], shTask(name, `echo ${name}; exit ${exitCode}`));
          if (reply?.status === 201) own.push(name);
          else tasks.delete(name);
        } else if (roll <= 55 && pick) {
          const reply = await call("get", a, agentA, "GET", `/tasks/${pick}`, [200]);
          if (reply?.status === 200 && (reply.json as Task).name !== pick) errors.push(`get ${pick}: got ${(reply.json as Task).name}`);
        } else if (roll <= 70 && pick) {
          const reply = await call("logs", a, agentA, "GET", `/tasks/${pick}/logs`, [200]);
          const text = reply?.body.toString() ?? "";
          if (reply?.status === 200 && text !== "" && text !== `${pick}\n`) errors.push(`logs ${pick}: ${JSON.stringify(text)}`);
        } else if (roll <= 73) {
          const reply = await call("list", a, agentA, "GET", "/getTasks", [200]);
          if (reply?.status === 200 && !Array.isArray(reply.json)) errors.push("list: not an array");
        } else if (roll <= 83 && pick) {
          own.splice(own.indexOf(pick), 1);
          tasks.get(pick)!.deleted = true;
          await call("delete", a, agentA, "DELETE", `/tasks/${pick}`, [204]);
          // Gone at once or still listed while it stops; never an error.
          await call("get-deleted", a, agentA, "GET", `/tasks/${pick}`, [200, 404]);
        } else {
          await call("get-missing", a, agentA, "GET", `/tasks/missing-${index}-${serial++}`, [404]);
        }
      }
    }

    async function syncClientOnB(): Promise<number> {
      const rng = new SeededRandom(SEED);
      let rounds = 0;
      while (Date.now() < deadline) {
        const desired = Array.from({ length: SYNC_POOL }, (_, k) => k).filter(() => rng.chance(0.4));
        const reply = await call("setTasks", b, agentB, "POST", "/setTasks", [200], desired.map(syncTask));
        rounds++;
        if (reply?.status !== 200) continue;
        const managed = reply.json as Task[];
        const names = new Set(managed.map((task) => task.name));
        for (const k of desired) if (!names.has(`sync-${k}`)) errors.push(`setTasks: sync-${k} desired but not managed`);
        for (const task of managed) {
          if (!desired.includes(Number(task.name.slice(5))) && !task.deletionTimestamp) errors.push(`setTasks: ${task.name} not desired but not being deleted`);
        }
        await call("list-B", b, agentB, "GET", "/getTasks", [200]);
      }
      return rounds;
    }

    const started = Date.now();
    const [syncRounds] = await Promise.all([syncClientOnB(), ...Array.from({ length: CLIENTS - 1 }, (_, i) => clientOnA(i + 1))]);
    const elapsed = (Date.now() - started) / 1000;
    agentA.destroy();
    agentB.destroy();

    // Every created and not deleted task is listed and ends with its true exit code and output.
    const kept = [...tasks].filter(([, task]) => !task.deleted);
    await waitFor(async () => (await a.client.listTasks()).every((task) => terminatedOf(task) || task.deletionTimestamp), 180_000, 500);
    const listed = new Map((await a.client.listTasks()).map((task) => [task.name, task]));
    const lost = kept.filter(([name]) => !listed.has(name)).map(([name]) => name);
    const wrong = kept
      .filter(([name, task]) => listed.has(name) && terminatedOf(listed.get(name)!)?.exitCode !== task.exitCode)
      .map(([name, task]) => `${name}: expected ${task.exitCode}, got ${JSON.stringify(listed.get(name)!.status.state)}`);
    for (let i = 0; i < kept.length; i += 50) {
      await Promise.all(
        kept.slice(i, i + 50).map(async ([name]) => {
          const output = (await a.client.logs(name)).toString();
          if (output !== `${name}\n`) wrong.push(`${name}: output ${JSON.stringify(output)}`);
        }),
      );
    }
    const deleted = [...tasks].filter(([, task]) => task.deleted).map(([name]) => name);
    await waitFor(async () => (await a.client.listTasks()).every((task) => !deleted.includes(task.name)), 60_000, 500);

    // B converges on the last desired set.
    const finalSet = Array.from({ length: 10 }, (_, k) => k);
    await b.client.setTasks(finalSet.map(syncTask));
    const converged = await waitFor(async () => {
      const all = await b.client.listTasks();
      const names = all.map((task) => task.name).sort();
      const expectedNames = finalSet.map((k) => `sync-${k}`).sort();
      return JSON.stringify(names) === JSON.stringify(expectedNames) && all.every((task) => terminatedOf(task) && !task.deletionTimestamp) ? all : undefined;
    }, 60_000, 250);
    for (const task of converged) expect(terminatedOf(task)?.exitCode, task.name).toBe(Number(task.name.slice(5)) % 50);

    const operations = Object.fromEntries([...latencies].sort(([x], [y]) => x.localeCompare(y)).map(([op, samples]) => [op, percentiles(samples)]));
    const summary = {
      date: new Date().toISOString(),
      seed: SEED,
      seconds: SECONDS,
      elapsedSeconds: Math.round(elapsed * 10) / 10,
      clients: CLIENTS,
      machine: { cpus: cpus().length, node: process.version },
      requests,
      requestsPerSecond: Math.round(requests / elapsed),
      tasksCreated: tasks.size,
      tasksDeleted: deleted.length,
      setTasksRounds: syncRounds,
      errors: errors.length,
      lostTasks: lost.length,
      latencyMs: operations,
    };
    console.log(`load: ${requests} requests in ${summary.elapsedSeconds} s (${summary.requestsPerSecond}/s), ${tasks.size} tasks created, ${deleted.length} deleted, ${syncRounds} setTasks rounds`);
    console.table(operations);
    if (process.env.RECORD_LOAD_RESULTS === "1") {
      await mkdir(join(REPO_ROOT, "bench", "results"), { recursive: true });
      await writeFile(join(REPO_ROOT, "bench", "results", "load.json"), `${JSON.stringify(summary, null, 2)}\n`);
      console.log("load: figures recorded in bench/results/load.json");
    }

    expect(errors.slice(0, 20), `${errors.length} unexpected replies`).toEqual([]);
    expect(lost, "created tasks missing from the list").toEqual([]);
    expect(wrong.slice(0, 20), `${wrong.length} tasks with a wrong outcome or output`).toEqual([]);
  });
});
