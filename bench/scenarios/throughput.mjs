// Short-task throughput: N `/bin/sh -c true` tasks with 64 API clients in flight, POST /tasks → the task's
// `terminated` event, against N bare child_process.spawn + exit of the same command at the same concurrency in one
// plain Node process. The process runtime alone (start + wait, in this process) is shown for reference.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProcessRuntime } from "@org/runtime-process";
import { runBaseline } from "../lib/baseline.mjs";
import { Http, openFeed, processTask, startBenchExecutor, withExecutorState } from "../lib/executor.mjs";
import { cpuSecondsSince, cpuSnapshot } from "../lib/procstat.mjs";
import { barChart, histogram } from "../lib/svg.mjs";
import { pool, round, summarize } from "../lib/stats.mjs";

const COMMAND = ["/bin/sh", "-c", "true"];
const CONCURRENCY = 64;

async function processRuntime(tasks) {
  const root = await mkdtemp(join(tmpdir(), "bench-runtime-"));
  const runtime = createProcessRuntime({ graceMs: 1000, maxLogBytes: 0 });
  try {
    return await pool(tasks, CONCURRENCY, async (i) => {
      const task = { name: `t${i}`, spec: { process: { command: COMMAND } }, dir: join(root, `t${i}`) };
      await mkdir(task.dir);
      const handle = await runtime.start(task);
      await runtime.wait(task, handle);
    });
  } finally {
    await runtime.close();
    await rm(root, { recursive: true, force: true });
  }
}

async function executorApi(tasks, log) {
  const executor = await startBenchExecutor(["--retain-per-group=0"]);
  const http = new Http(executor.url, CONCURRENCY);
  const feed = await openFeed(executor, http);
  try {
    const perTask = [];
    const cpuBefore = cpuSnapshot(executor.child.pid);
    const ms = await pool(tasks, CONCURRENCY, async (i) => {
      const name = `t${i}`;
      const terminated = feed.next("terminated", name);
      const started = performance.now();
      await http.create(processTask(name, COMMAND));
      const { event, at } = await terminated;
      if (event.task.status.state.terminated.exitCode !== 0) throw new Error(`${name} ended ${JSON.stringify(event.task.status.state)}`);
      perTask.push(at - started);
      if ((i + 1) % 1000 === 0) log(`${i + 1} tasks`);
    });
    const cpuSeconds = cpuSecondsSince(executor.child.pid, cpuBefore);
    return { ms, perTask, cpuSeconds, resets: http.resets };
  } catch (error) {
    throw withExecutorState(executor, error);
  } finally {
    await feed.close();
    http.close();
    await executor.kill();
    await rm(executor.dataDir, { recursive: true, force: true });
  }
}

export default {
  title: "1. Short-task throughput",
  async run({ quick, log }) {
    const tasks = quick ? 500 : 5000;
    log(`baseline: ${tasks} bare spawns, ${CONCURRENCY} in flight`);
    const baseline = await runBaseline({ mode: "throughput", count: tasks, concurrency: CONCURRENCY, command: COMMAND });
    log(`executor API: ${tasks} tasks`);
    const api = await executorApi(tasks, log);
    log("process runtime alone");
    let runtimeMs;
    let runtimeError;
    try {
      runtimeMs = await processRuntime(tasks);
    } catch (error) {
      runtimeError = String(error.message ?? error);
    }
    const rate = (ms) => round((tasks / ms) * 1000, 1);
    const ratio = round(baseline.ms / api.ms, 2);
    const rows = [
      { name: "bare child_process.spawn + exit (plain Node process)", ms: round(baseline.ms, 0), tasksPerSecond: rate(baseline.ms), ratioToBareSpawn: 1 },
      { name: "executor HTTP API (POST /tasks → terminated event)", ms: round(api.ms, 0), tasksPerSecond: rate(api.ms), ratioToBareSpawn: ratio },
      ...(runtimeMs !== undefined
        ? [{ name: "process runtime alone (start + wait, no HTTP, no store)", ms: round(runtimeMs, 0), tasksPerSecond: rate(runtimeMs), ratioToBareSpawn: round(baseline.ms / runtimeMs, 2) }]
        : []),
    ];
    const latency = summarize(api.perTask);
    return {
      parameters: { tasks, concurrency: CONCURRENCY, command: COMMAND, executorFlags: ["--retain-per-group=0"] },
      method:
        `${tasks} tasks \`${COMMAND.join(" ")}\`, ${CONCURRENCY} clients in flight, each POST /tasks then waiting for that task's ` +
        "`terminated` event on one `GET /events` stream (typed client `ExecutorClient.events()`). Baseline: the same number of " +
        "`child_process.spawn` + `exit` of the same command, same concurrency, in a separate plain Node process, in the same run. " +
        "Durability of each task (its state surviving a SIGKILL right after the reply) is not checked here; the executor's reliability tests cover it.",
      rows,
      figures: { createToTerminatedMs: latency, executorCpuSeconds: round(api.cpuSeconds, 2), executorCpuShareOfOneCore: round(api.cpuSeconds / (api.ms / 1000), 2), executorCpuMsPerTask: round((api.cpuSeconds * 1000) / tasks, 2), keptAliveSocketResets: api.resets },
      targets: [{ what: "executor throughput vs bare spawn", bound: "≥ 1.0×", measured: `${ratio}× (${rate(api.ms)} vs ${rate(baseline.ms)} tasks/s)`, met: ratio >= 1.0 }],
      highlights: [
        ...rows.map((row) => `${row.name}: ${row.tasksPerSecond} tasks/s (${row.ms} ms, ${row.ratioToBareSpawn}× bare spawn)`),
        `per task create → terminated: p50 ${latency.p50} ms, p99 ${latency.p99} ms (with ${CONCURRENCY} in flight)`,
        `executor CPU (its process tree): ${round((api.cpuSeconds * 1000) / tasks, 2)} ms per task, ${round(api.cpuSeconds / (api.ms / 1000), 2)} of a core on average while it ran`,
        ...(api.resets ? [`${api.resets} request(s) were resent after the executor reset a kept-alive connection`] : []),
        ...(runtimeError ? [`process runtime alone could not run: ${runtimeError}`] : []),
      ],
      charts: [
        {
          name: "rate",
          title: "tasks per second",
          svg: barChart({
            title: `Throughput, ${tasks} × sh -c true, ${CONCURRENCY} in flight`,
            unit: "tasks/s",
            bars: rows.map((row) => ({ label: row.name.replace(/ \(.*\)$/, ""), value: row.tasksPerSecond })),
            marker: { value: rate(baseline.ms), label: "bare spawn" },
          }),
        },
        {
          name: "latency",
          title: "create → terminated per task",
          svg: histogram({ title: `Executor: POST /tasks → terminated event per task (${CONCURRENCY} in flight)`, unit: "ms", samples: api.perTask }),
        },
      ],
    };
  },
};
