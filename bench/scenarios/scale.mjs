// Scale at rest: an executor holding N finished tasks. Reads of one task and of the whole list, idle CPU of the
// executor's process tree over a window (from /proc/PID/stat), RSS, and a restart to healthy with every task
// recovered.
import { rm } from "node:fs/promises";
import { runBaseline, startBaselineServer } from "../lib/baseline.mjs";
import { Http, openFeed, processTask, startBenchExecutor } from "../lib/executor.mjs";
import { cpuSecondsSince, cpuSnapshot, rssBytes, treeRssBytes } from "../lib/procstat.mjs";
import { histogram } from "../lib/svg.mjs";
import { pool, round, sleep, summarize } from "../lib/stats.mjs";

const FLAGS = ["--retain-per-group=0"];
const MB = 1024 * 1024;

export default {
  title: "4. Scale at rest, finished tasks",
  async run({ quick, log }) {
    const tasks = quick ? 1000 : 10_000;
    const idleSeconds = quick ? 10 : 30;
    const gets = quick ? 500 : 2000;
    const lists = quick ? 5 : 20;
    let executor = await startBenchExecutor(FLAGS);
    let http = new Http(executor.url, 64);
    try {
      log(`filling with ${tasks} finished tasks`);
      const feed = await openFeed(executor, http, "fill-check");
      const fillMs = await pool(tasks, 64, async (i) => {
        const name = `s${i}`;
        const terminated = feed.next("terminated", name);
        await http.create(processTask(name, ["true"]));
        await terminated;
        if ((i + 1) % 2000 === 0) log(`${i + 1} tasks`);
      });
      await feed.close();
      const total = tasks;
      await sleep(2000);

      log(`${gets} GET /tasks/{name}`);
      const getMs = [];
      for (let i = 0; i < gets; i++) {
        const name = `s${Math.floor(Math.random() * tasks)}`;
        const t0 = performance.now();
        const reply = await http.call("GET", `/tasks/${name}`);
        getMs.push(performance.now() - t0);
        if (reply.status !== 200) throw new Error(`GET /tasks/${name}: ${reply.status}`);
      }
      // The machine's own floor for the same loop: a bare node:http server answering with the same body.
      log(`${gets} GET of a bare node:http server (baseline)`);
      const sampleBody = (await http.call("GET", "/tasks/s0")).body.toString();
      const bare = await startBaselineServer(sampleBody);
      const bareHttp = new Http(bare.url, 1);
      const bareMs = [];
      try {
        for (let i = 0; i < gets; i++) {
          const t0 = performance.now();
          await bareHttp.call("GET", `/tasks/s${Math.floor(Math.random() * tasks)}`);
          bareMs.push(performance.now() - t0);
        }
      } finally {
        bareHttp.close();
        await bare.stop();
      }

      log(`${lists} GET /getTasks`);
      const listMs = [];
      let listBytes = 0;
      let listed = 0;
      for (let i = 0; i < lists; i++) {
        const t0 = performance.now();
        const reply = await http.call("GET", "/getTasks");
        listMs.push(performance.now() - t0);
        listBytes = reply.body.length;
        listed = JSON.parse(reply.body.toString()).length;
      }
      http.close();

      log(`idle for ${idleSeconds} s`);
      await sleep(1000);
      const pid = executor.child.pid;
      const before = cpuSnapshot(pid);
      const t0 = performance.now();
      await sleep(idleSeconds * 1000);
      const idleCpu = cpuSecondsSince(pid, before) / ((performance.now() - t0) / 1000);
      const rss = rssBytes(pid);
      const treeRss = treeRssBytes(pid);
      // The window above usually holds V8's memory reducer (full collections some 15-30 s after the fill ends);
      // the next one shows the executor once it has settled. Recorded only: the target is the first window.
      log(`idle for another ${idleSeconds} s`);
      const nextBefore = cpuSnapshot(pid);
      const n0 = performance.now();
      await sleep(idleSeconds * 1000);
      const nextIdleCpu = cpuSecondsSince(pid, nextBefore) / ((performance.now() - n0) / 1000);
      const nextRss = rssBytes(pid);

      log("restart");
      await executor.stop();
      const r0 = performance.now();
      const restarted = await executor.restart();
      const listeningMs = performance.now() - r0;
      executor = restarted;
      http = new Http(executor.url, 4);
      let healthyMs;
      let recoveredMs;
      while (recoveredMs === undefined && performance.now() - r0 < 120_000) {
        if (healthyMs === undefined) {
          const health = await http.call("GET", "/health").catch(() => undefined);
          if (health?.status === 200 && JSON.parse(health.body.toString()).status === "healthy") healthyMs = performance.now() - r0;
          else {
            await sleep(5);
            continue;
          }
        }
        const reply = await http.call("GET", "/getTasks").catch(() => undefined);
        if (reply?.status === 200) {
          const all = JSON.parse(reply.body.toString());
          if (all.length >= total && all.every((task) => task.status?.state?.terminated)) recoveredMs = performance.now() - r0;
        }
        if (recoveredMs === undefined) await sleep(5);
      }
      const rssAfterRestart = rssBytes(executor.child.pid);
      // For scale: how long a bare Node process takes here to start an HTTP server listening on loopback.
      const bareNode = await runBaseline({ mode: "run", command: [process.execPath, "-e", "require('http').createServer().listen(0, '127.0.0.1', () => process.exit(0))"] });

      const get = summarize(getMs, 3);
      const bareGet = summarize(bareMs, 3);
      const list = summarize(listMs, 1);
      const cpuPercent = round(idleCpu * 100, 3);
      const nextCpuPercent = round(nextIdleCpu * 100, 3);
      return {
        parameters: { tasks, idleSeconds, gets, lists, executorFlags: FLAGS },
        method:
          `${tasks} \`true\` tasks created (64 in flight) and finished, then: ${gets} sequential GET /tasks/{name} of random tasks, ` +
          `${lists} sequential GET /getTasks, ${idleSeconds} s at rest measuring the CPU time of the executor's process tree ` +
          `(utime + stime from /proc/PID/stat) and its RSS (VmRSS), the same over the ${idleSeconds} s after (recorded, not a target), ` +
          "and a restart: SIGTERM, start the executor again on the same data " +
          "dir, time until /health says healthy and GET /getTasks lists every task as terminated.",
        figures: {
          fillSeconds: round(fillMs / 1000, 1),
          fillTasksPerSecond: round((tasks / fillMs) * 1000, 0),
          getTaskMs: get,
          bareNodeHttpGetMs: bareGet,
          getTasksMs: list,
          getTasksBytes: listBytes,
          listed,
          idleCpuPercentOfOneCore: cpuPercent,
          rssMiB: round(rss / MB, 1),
          processTreeRssMiB: round(treeRss / MB, 1),
          nextWindow: { idleCpuPercentOfOneCore: nextCpuPercent, rssMiB: round(nextRss / MB, 1) },
          bareNodeHttpServerListeningMs: round(bareNode.exitMs, 0),
          restart: { listeningMs: round(listeningMs, 0), healthyMs: round(healthyMs, 0), recoveredMs: round(recoveredMs, 0), rssMiBAfter: round(rssAfterRestart / MB, 1) },
        },
        targets: [
          { what: `GET /tasks/{name} p99 (${tasks} tasks)`, bound: "≤ 2 ms", measured: `${get.p99} ms (p50 ${get.p50} ms; a bare node:http server here: p99 ${bareGet.p99} ms)`, met: get.p99 <= 2 },
          { what: `GET /getTasks p50 (${tasks} tasks)`, bound: "≤ 50 ms", measured: `${list.p50} ms (max ${list.max} ms, ${round(listBytes / MB, 1)} MiB)`, met: list.p50 <= 50 },
          { what: `idle CPU over ${idleSeconds} s`, bound: "≤ 0.2 % of a core", measured: `${cpuPercent} % (the ${idleSeconds} s after: ${nextCpuPercent} %)`, met: cpuPercent <= 0.2 },
          { what: "RSS at rest (executor process)", bound: "≤ 150 MB", measured: `${round(rss / 1e6, 1)} MB`, met: rss <= 150e6 },
          {
            what: "restart to healthy with full recovery",
            bound: "≤ 1 s",
            measured: recoveredMs === undefined ? "not recovered within 120 s" : `${round(recoveredMs, 0)} ms (listening ${round(listeningMs, 0)} ms, healthy ${round(healthyMs, 0)} ms)`,
            met: recoveredMs !== undefined && recoveredMs <= 1000,
          },
        ],
        highlights: [
          `filled with ${tasks} tasks in ${round(fillMs / 1000, 1)} s (${round((tasks / fillMs) * 1000, 0)} tasks/s)`,
          `GET /tasks/{name}: p50 ${get.p50} ms, p99 ${get.p99} ms, max ${get.max} ms (the same loop against a bare node:http server answering the same body: p50 ${bareGet.p50} ms, p99 ${bareGet.p99} ms)`,
          `GET /getTasks: p50 ${list.p50} ms, max ${list.max} ms for ${listed} tasks (${round(listBytes / MB, 1)} MiB)`,
          `at rest: ${cpuPercent} % of a core, RSS ${round(rss / MB, 1)} MiB (process tree ${round(treeRss / MB, 1)} MiB); over the ${idleSeconds} s after: ${nextCpuPercent} %, RSS ${round(nextRss / MB, 1)} MiB`,
          `restart: listening after ${round(listeningMs, 0)} ms, healthy after ${round(healthyMs, 0)} ms, all ${tasks} tasks listed after ${round(recoveredMs, 0)} ms (for scale: a bare Node HTTP server listens after ${round(bareNode.exitMs, 0)} ms here)`,
        ],
        charts: [
          {
            name: "get",
            title: "GET /tasks/{name}",
            svg: histogram({ title: `GET /tasks/{name} with ${tasks} finished tasks`, unit: "ms", samples: getMs, markers: [{ value: 2, label: "2 ms bound" }] }),
          },
        ],
      };
    } finally {
      http.close();
      await executor.kill();
      await rm(executor.dataDir, { recursive: true, force: true });
    }
  },
};
