// Latency of one task at a time: create → `running` visible (the `started` event) against bare spawn's spawn() →
// 'spawn' event, and process exit → `terminated` event (exit time = the terminated state's finishedAt, which the
// task's keeper stamps when it reaps the process).
import { runBaseline } from "../lib/baseline.mjs";
import { Http, openFeed, processTask, startBenchExecutor } from "../lib/executor.mjs";
import { cdfChart, histogram } from "../lib/svg.mjs";
import { round, summarize } from "../lib/stats.mjs";
import { rm } from "node:fs/promises";

const COMMAND = ["/bin/sh", "-c", "true"];

export default {
  title: "2. Latency, sequential tasks",
  async run({ quick, log }) {
    const tasks = quick ? 100 : 1000;
    log(`baseline: ${tasks} sequential bare spawns`);
    const baseline = await runBaseline({ mode: "latency", count: tasks, command: COMMAND });
    log(`executor: ${tasks} sequential tasks`);
    const executor = await startBenchExecutor(["--retain-per-group=0"]);
    const http = new Http(executor.url, 1);
    const feed = await openFeed(executor, http);
    const reply = [];
    const running = [];
    const exitToTerminated = [];
    const total = [];
    try {
      for (let i = 0; i < tasks; i++) {
        const name = `l${i}`;
        const started = feed.next("started", name);
        const terminated = feed.next("terminated", name);
        const t0 = performance.now();
        await http.create(processTask(name, COMMAND));
        reply.push(performance.now() - t0);
        running.push((await started).at - t0);
        const end = await terminated;
        total.push(end.at - t0);
        exitToTerminated.push(end.wall - Date.parse(end.event.task.status.state.terminated.finishedAt));
      }
    } finally {
      await feed.close();
      http.close();
      await executor.kill();
      await rm(executor.dataDir, { recursive: true, force: true });
    }
    const spawn = summarize(baseline.spawnMs, 3);
    const bareExit = summarize(baseline.exitMs, 3);
    const run = summarize(running, 3);
    const exit = summarize(exitToTerminated, 3);
    const gap = round(run.p50 - spawn.p50, 2);
    return {
      parameters: { tasks, command: COMMAND, executorFlags: ["--retain-per-group=0"] },
      method:
        `${tasks} tasks one after another. create → running: from sending POST /tasks to reading the task's \`started\` event. ` +
        "exit → terminated: the wall-clock time the `terminated` event was read minus its `finishedAt` (stamped by the task's keeper " +
        "when it reaps the process, millisecond precision, truncated, so this reads up to 1 ms high). Baseline: spawn() → 'spawn' event " +
        "of the same command, one at a time, in a separate plain Node process.",
      figures: { createReplyMs: summarize(reply, 3), createToRunningMs: run, createToTerminatedMs: summarize(total, 3), exitToTerminatedMs: exit, bareSpawnToSpawnEventMs: spawn, bareSpawnToExitMs: bareExit },
      targets: [
        { what: "create → running p50 vs bare spawn → 'spawn' p50", bound: "within 2 ms", measured: `+${gap} ms (${run.p50} vs ${spawn.p50} ms)`, met: gap <= 2 },
        { what: "process exit → terminated event p99", bound: "≤ 5 ms", measured: `${exit.p99} ms (p50 ${exit.p50} ms)`, met: exit.p99 <= 5 },
      ],
      highlights: [
        `POST /tasks reply: p50 ${summarize(reply, 2).p50} ms, p99 ${summarize(reply, 2).p99} ms`,
        `create → running: p50 ${run.p50} ms, p99 ${run.p99} ms; bare spawn → 'spawn': p50 ${spawn.p50} ms, p99 ${spawn.p99} ms`,
        `exit → terminated: p50 ${exit.p50} ms, p99 ${exit.p99} ms, max ${exit.max} ms`,
        `whole task, create → terminated: p50 ${summarize(total, 2).p50} ms; bare spawn → exit: p50 ${bareExit.p50} ms`,
      ],
      charts: [
        {
          name: "start",
          title: "create → running vs bare spawn",
          svg: cdfChart({
            title: "Start latency: executor create → started event vs bare spawn() → 'spawn'",
            unit: "ms",
            logX: true,
            series: [
              { label: "bare spawn() → 'spawn' event", samples: baseline.spawnMs },
              { label: "executor POST /tasks → started event", samples: running },
              { label: "executor POST /tasks → terminated event", samples: total },
            ],
          }),
        },
        {
          name: "exit",
          title: "exit → terminated event",
          svg: histogram({ title: "Process exit (finishedAt) → terminated event read", unit: "ms", samples: exitToTerminated, markers: [{ value: 5, label: "5 ms bound" }] }),
        },
      ],
    };
  },
};
