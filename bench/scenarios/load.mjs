// Under load: 200 concurrent clients for a fixed time mixing create, get, logs, list, delete (and get of a
// deleted and of a missing task), the mix of the executor's load test, on one executor. Latency per operation.
import { rm } from "node:fs/promises";
import { Http, shTask, startBenchExecutor } from "../lib/executor.mjs";
import { cpuSecondsSince, cpuSnapshot } from "../lib/procstat.mjs";
import { cdfChart } from "../lib/svg.mjs";
import { round, summarize } from "../lib/stats.mjs";

const CLIENTS = 200;

/** A small deterministic generator (mulberry32), so that runs with the same seed make the same requests. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export default {
  title: "3. Under load, 200 clients",
  async run({ quick, log }) {
    const seconds = quick ? 5 : 20;
    const maxTasks = 100 * seconds;
    const seed = 20261201;
    const executor = await startBenchExecutor(["--retain-per-group=0"]);
    const http = new Http(executor.url, CLIENTS);
    const latencies = new Map();
    const unexpected = new Map();
    let created = 0;
    let requests = 0;
    const cpuBefore = cpuSnapshot(executor.child.pid);

    async function call(op, method, path, expected, body) {
      const started = performance.now();
      requests++;
      let reply;
      try {
        reply = await http.call(method, path, body, 60_000);
      } catch (error) {
        unexpected.set(`${op}: ${error.message}`, (unexpected.get(`${op}: ${error.message}`) ?? 0) + 1);
        return undefined;
      }
      if (!latencies.has(op)) latencies.set(op, []);
      latencies.get(op).push(performance.now() - started);
      if (!expected.includes(reply.status)) unexpected.set(`${op} ${reply.status}`, (unexpected.get(`${op} ${reply.status}`) ?? 0) + 1);
      return reply;
    }

    const deadline = Date.now() + seconds * 1000;
    async function client(index) {
      const rng = random(seed + index);
      const own = [];
      let serial = 0;
      while (Date.now() < deadline) {
        const roll = Math.floor(rng() * 100) + 1;
        const pick = own.length ? own[Math.floor(rng() * own.length)] : undefined;
        if (roll <= 30 && created < maxTasks) {
          const name = `c${index}-${serial++}`;
          created++;
          const reply = await call("create", "POST", "/tasks", [201], shTask(name, `echo ${name}; exit ${Math.floor(rng() * 100)}`));
          if (reply?.status === 201) own.push(name);
        } else if (roll <= 55 && pick) {
          await call("get", "GET", `/tasks/${pick}`, [200]);
        } else if (roll <= 70 && pick) {
          await call("logs", "GET", `/tasks/${pick}/logs`, [200]);
        } else if (roll <= 73) {
          await call("list", "GET", "/getTasks", [200]);
        } else if (roll <= 83 && pick) {
          own.splice(own.indexOf(pick), 1);
          await call("delete", "DELETE", `/tasks/${pick}`, [204]);
          await call("get-deleted", "GET", `/tasks/${pick}`, [200, 404]);
        } else {
          await call("get-missing", "GET", `/tasks/missing-${index}-${serial++}`, [404]);
        }
      }
    }

    log(`${CLIENTS} clients for ${seconds} s`);
    const started = performance.now();
    let elapsed;
    let cpuSeconds;
    try {
      await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i + 1)));
    } finally {
      elapsed = (performance.now() - started) / 1000;
      cpuSeconds = cpuSecondsSince(executor.child.pid, cpuBefore);
      http.close();
      await executor.kill();
      await rm(executor.dataDir, { recursive: true, force: true });
    }
    const operations = Object.fromEntries([...latencies].sort(([a], [b]) => a.localeCompare(b)).map(([op, samples]) => [op, summarize(samples)]));
    const create = operations.create ?? { count: 0 };
    const errors = [...unexpected.values()].reduce((sum, n) => sum + n, 0);
    return {
      parameters: { clients: CLIENTS, seconds, seed, maxTasks, executorFlags: ["--retain-per-group=0"] },
      method:
        `${CLIENTS} concurrent clients for ${seconds} s against one executor, each picking at random (seeded): create 30 %, get 25 %, ` +
        "logs 15 %, list 3 %, delete + get of the deleted task 10 %, get of a missing task 17 % (creates stop after " +
        `${maxTasks} tasks, each \`echo NAME; exit N\`). Latency is from sending the request to the end of the reply.`,
      figures: {
        elapsedSeconds: round(elapsed, 1),
        requests,
        requestsPerSecond: round(requests / elapsed, 0),
        tasksCreated: created,
        unexpectedReplies: errors,
        unexpected: Object.fromEntries(unexpected),
        executorCpuSeconds: round(cpuSeconds, 1),
        executorCpuShareOfOneCore: round(cpuSeconds / elapsed, 2),
        latencyMs: operations,
      },
      targets: [
        { what: "create p50", bound: "≤ 20 ms", measured: `${create.p50} ms`, met: create.count ? create.p50 <= 20 : null },
        { what: "create p99", bound: "≤ 100 ms", measured: `${create.p99} ms`, met: create.count ? create.p99 <= 100 : null },
      ],
      highlights: [
        `${requests} requests in ${round(elapsed, 1)} s (${round(requests / elapsed, 0)}/s), ${created} tasks created, ${errors} unexpected replies`,
        `the executor's process tree used ${round(cpuSeconds / elapsed, 2)} of a core on average meanwhile`,
        ...Object.entries(operations).map(([op, s]) => `${op}: p50 ${s.p50} ms, p99 ${s.p99} ms (n=${s.count})`),
      ],
      charts: [
        {
          name: "ops",
          title: "latency per operation",
          svg: cdfChart({
            title: `Latency per operation, ${CLIENTS} concurrent clients`,
            unit: "ms",
            logX: true,
            series: ["create", "get", "logs", "list", "delete"].filter((op) => latencies.has(op)).map((op) => ({ label: op, samples: latencies.get(op) })),
            markers: [
              { value: 20, label: "20 ms" },
              { value: 100, label: "100 ms" },
            ],
          }),
        },
      ],
    };
  },
};
