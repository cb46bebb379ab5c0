// Logs: one task writing a large amount of line-oriented output to stdout through the executor (captured by its
// keeper into the task's log), against the same command writing to a file directly, and the rate at which
// GET /tasks/{name}/logs?follow=true delivers the output to a reader.
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBaseline } from "../lib/baseline.mjs";
import { Http, openFeed, shTask, startBenchExecutor } from "../lib/executor.mjs";
import { barChart } from "../lib/svg.mjs";
import { round } from "../lib/stats.mjs";

const LINE = "task-executor log benchmark 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const FLAGS = ["--retain-per-group=0", "--max-log-bytes-per-task=4Gi"];
const MB = 1e6;

export default {
  title: "5. Logs, one large writer",
  async run({ quick, log }) {
    const bytes = quick ? 50 * MB : 500 * MB;
    const runs = quick ? 1 : 3;
    const script = `yes '${LINE}' | head -c ${bytes}`;
    const scratch = await mkdtemp(join(tmpdir(), "bench-logs-"));
    const executor = await startBenchExecutor(FLAGS);
    const http = new Http(executor.url, 8);
    const feed = await openFeed(executor, http);
    const baselineMs = [];
    const executorMs = [];
    const keeperMs = [];
    let catchUp;
    let live;
    let logFileBytes;
    try {
      for (let run = 0; run < runs; run++) {
        log(`run ${run + 1}/${runs}: ${bytes / MB} MB straight to a file`);
        const file = join(scratch, "out");
        const direct = await runBaseline({ mode: "run", command: ["/bin/sh", "-c", `${script} > ${file}`] });
        baselineMs.push(direct.exitMs);
        await rm(file, { force: true });

        log(`run ${run + 1}/${runs}: ${bytes / MB} MB through the executor`);
        const name = `big-${run}`;
        const terminated = feed.next("terminated", name, 600_000);
        const t0 = performance.now();
        await http.create(shTask(name, script));
        const end = await terminated;
        executorMs.push(end.at - t0);
        const state = end.event.task.status.state.terminated;
        keeperMs.push(Date.parse(state.finishedAt) - Date.parse(state.startedAt));
        if (state.exitCode !== 0) throw new Error(`${name} ended ${JSON.stringify(state)}`);
        if (run === runs - 1) {
          logFileBytes = (await stat(join(executor.dataDir, name, "stdout.log"))).size;
          log("follow=true of the finished task");
          const read = await http.stream(`/tasks/${name}/logs?follow=true`);
          catchUp = { ...read, seconds: (read.endAt - read.firstByteAt) / 1000 };
        }
        await http.call("DELETE", `/tasks/${name}`);
      }

      log("follow=true from the start of a running writer");
      const name = "big-followed";
      const terminated = feed.next("terminated", name, 600_000);
      const t0 = performance.now();
      await http.create(shTask(name, script));
      const read = await http.stream(`/tasks/${name}/logs?follow=true`);
      const end = await terminated;
      live = { ...read, seconds: (read.endAt - read.firstByteAt) / 1000, taskMs: end.at - t0 };
      await http.call("DELETE", `/tasks/${name}`);
    } finally {
      await feed.close();
      http.close();
      await executor.kill();
      await rm(executor.dataDir, { recursive: true, force: true });
      await rm(scratch, { recursive: true, force: true });
    }
    const best = (xs) => Math.min(...xs);
    const ratio = round(best(executorMs) / best(baselineMs), 3);
    const catchUpRate = round(catchUp.bytes / MB / catchUp.seconds, 0);
    const liveRate = round(live.bytes / MB / live.seconds, 0);
    const writerRate = round(bytes / MB / (best(baselineMs) / 1000), 0);
    const notes = [];
    if (catchUp.bytes !== bytes) notes.push(`follow=true of the finished task returned ${catchUp.bytes} bytes, not the ${bytes} written.`);
    if (live.bytes !== bytes) notes.push(`follow=true of the running task returned ${live.bytes} bytes, not the ${bytes} written.`);
    return {
      parameters: { bytes, runs, line: LINE, command: ["/bin/sh", "-c", script], executorFlags: FLAGS },
      method:
        `\`${script}\` (lines of ${LINE.length + 1} bytes) as a task (POST /tasks → terminated event) and, alternating with it, the same ` +
        "command redirected to a file directly (spawn → exit in a plain Node process); the best of " +
        `${runs} run(s) each is compared. follow=true is read by a plain HTTP client that counts bytes, first for the finished task ` +
        "(what the executor can deliver) and then from the start of another running writer (bounded by the writer).",
      figures: {
        directToFileMs: baselineMs.map((x) => round(x, 0)),
        throughExecutorMs: executorMs.map((x) => round(x, 0)),
        keeperStartToFinishMs: keeperMs,
        stdoutLogBytes: logFileBytes,
        followFinished: { bytes: catchUp.bytes, seconds: round(catchUp.seconds, 2), mbPerSecond: catchUpRate },
        followRunning: { bytes: live.bytes, seconds: round(live.seconds, 2), mbPerSecond: liveRate, taskMs: round(live.taskMs, 0) },
        directWriterMbPerSecond: writerRate,
      },
      targets: [
        { what: `${bytes / MB} MB to stdout through the executor vs straight to a file`, bound: "within 5 % (≤ 1.05×)", measured: `${ratio}× (${round(best(executorMs), 0)} vs ${round(best(baselineMs), 0)} ms)`, met: ratio <= 1.05 },
        { what: "logs?follow=true delivery rate (finished task)", bound: "≥ 200 MB/s", measured: `${catchUpRate} MB/s`, met: catchUpRate >= 200 },
      ],
      highlights: [
        `straight to a file: ${baselineMs.map((x) => round(x, 0)).join(", ")} ms; through the executor: ${executorMs.map((x) => round(x, 0)).join(", ")} ms`,
        `the task's stdout.log holds ${round(logFileBytes / MB, 1)} MB for ${bytes / MB} MB of output (CRI log format: time, stream and tag per line)`,
        `follow=true: ${catchUpRate} MB/s from a finished task; ${liveRate} MB/s following a running writer (the writer alone makes ${writerRate} MB/s)`,
      ],
      notes,
      charts: [
        {
          name: "rates",
          title: "log rates",
          svg: barChart({
            title: `Logs: ${bytes / MB} MB of output`,
            unit: "MB/s",
            bars: [
              { label: "writer straight to a file", value: writerRate },
              { label: "writer through the executor", value: round(bytes / MB / (best(executorMs) / 1000), 0) },
              { label: "follow=true, finished task", value: catchUpRate },
              { label: "follow=true, running writer", value: liveRate },
            ],
            marker: { value: 200, label: "200 MB/s" },
          }),
        },
      ],
    };
  },
};
