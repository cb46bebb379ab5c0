// Throughput benchmark: tasks per second of the process runtime and of the whole executor API, each as a ratio
// against bare child_process.spawn of the same command in the same run. Usage: pnpm bench [-- --tasks=N]
import { spawn } from "node:child_process";
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent, request } from "node:http";
import { createProcessRuntime } from "@org/runtime-process";
import { startExecutor } from "@org/testkit";

const TASKS = Number(process.argv.find((arg) => arg.startsWith("--tasks="))?.split("=")[1] ?? 400);
const CONCURRENCY = 32;
const COMMAND = ["true"];

/** Runs `work(i)` for i < TASKS with at most CONCURRENCY in flight; returns elapsed ms. */
async function timed(work) {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < TASKS) await work(next++);
    }),
  );
  return performance.now() - started;
}

function bareSpawn() {
  return timed(
    () =>
      new Promise((resolve, reject) => {
        const child = spawn(COMMAND[0], COMMAND.slice(1), { stdio: "ignore" });
        child.once("error", reject);
        child.once("exit", resolve);
      }),
  );
}

async function processRuntime() {
  const root = await mkdtemp(join(tmpdir(), "bench-runtime-"));
  const runtime = createProcessRuntime({ graceMs: 1000, maxLogBytes: 0 });
  const ms = await timed(async (i) => {
    const task = { name: `t${i}`, spec: { process: { command: COMMAND } }, dir: join(root, `t${i}`) };
    await mkdir(task.dir);
    const handle = await runtime.start(task);
    await runtime.wait(task, handle);
  });
  await runtime.close();
  return ms;
}

function post(agent, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => (res.statusCode === 201 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

async function executorApi() {
  const executor = await startExecutor();
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const client = executor.client;
  const ms = await timed(async (i) => {
    await post(agent, `${executor.url}/tasks`, { name: `t${i}`, spec: { process: { command: COMMAND } } });
    await client.waitForTerminated(`t${i}`, 60);
  });
  agent.destroy();
  await executor.kill();
  return ms;
}

const rows = [];
const baseline = await bareSpawn();
for (const [name, run] of [["process runtime (start + wait)", processRuntime], ["executor HTTP API (create + long-poll)", executorApi]]) {
  const ms = await run();
  rows.push({ name, ms: Math.round(ms), tasksPerSecond: Math.round((TASKS / ms) * 1000), ratioToBareSpawn: Number((baseline / ms).toFixed(2)) });
}
const result = {
  date: new Date().toISOString(),
  tasks: TASKS,
  concurrency: CONCURRENCY,
  command: COMMAND,
  baseline: { name: "bare child_process.spawn + exit", ms: Math.round(baseline), tasksPerSecond: Math.round((TASKS / baseline) * 1000) },
  rows,
};
console.table([{ name: result.baseline.name, ms: result.baseline.ms, tasksPerSecond: result.baseline.tasksPerSecond, ratioToBareSpawn: 1 }, ...rows]);
await mkdir(new URL("./results/", import.meta.url), { recursive: true });
await writeFile(new URL("./results/throughput.json", import.meta.url), `${JSON.stringify(result, null, 2)}\n`);
