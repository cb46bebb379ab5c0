// Cluster: N Task objects over 5 executor pods (real executors in network namespaces, registered as Ready pods in
// the testkit's Kubernetes test environment), placed and followed by the built controller as a child process.
// Exit → terminal Task status is the time a watch on the Tasks saw the terminal phase minus the Task's
// status.completionTime (the executor's finishedAt, stamped by the task's keeper when it reaped the process).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { Watch } from "@kubernetes/client-node";
import { TASK_API_VERSION, TASK_GROUP, TASK_KIND, TASK_PLURAL, TASK_VERSION } from "@org/task-api";
import { createTestNamespace, startExecutorPod, startKubeTestEnv, stopKubeTestEnv } from "@org/testkit";
import { CONTROLLER_BIN, EXECUTOR_BIN } from "../lib/executor.mjs";
import { cpuSecondsSince, cpuSnapshot, sampleRss } from "../lib/procstat.mjs";
import { histogram } from "../lib/svg.mjs";
import { pool, round, summarize, wallNow } from "../lib/stats.mjs";

const EXECUTORS = 5;
const TERMINAL = new Set(["Succeeded", "Failed", "Cancelled"]);
const MB = 1024 * 1024;

function startController(kubeconfigPath) {
  const child = spawn(
    process.execPath,
    [CONTROLLER_BIN, `--kubeconfig=${kubeconfigPath}`, "--health-addr=127.0.0.1:0", "--metrics-addr=off", "--leader-elect=false", "--task-retention-count=0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = [];
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const synced = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the controller did not sync its informers within 120 s:\n${output.slice(-20).join("\n")}`)), 120_000);
    const onLine = (line) => {
      output.push(line);
      if (output.length > 2000) output.splice(0, 1000);
      if (/informers synced/.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the controller exited with ${code}:\n${output.slice(-20).join("\n")}`));
    });
  });
  return {
    child,
    output,
    synced,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Watches the Tasks of `namespace` and stamps when each was first seen in a terminal phase. */
function watchTasks(env, namespace) {
  const seen = new Map();
  const state = { restarts: 0, stopped: false, request: undefined, error: undefined };
  const path = `/apis/${TASK_GROUP}/${TASK_VERSION}/namespaces/${namespace}/${TASK_PLURAL}`;
  const open = async () => {
    state.request = await new Watch(env.kubeConfig()).watch(
      path,
      {},
      (type, task) => {
        const phase = task?.status?.phase;
        if (type === "DELETED" || !TERMINAL.has(phase) || seen.has(task.metadata.name)) return;
        seen.set(task.metadata.name, {
          wall: wallNow(),
          at: performance.now(),
          phase,
          completionTime: task.status.completionTime,
          executorTaskName: task.status.executor?.taskName,
        });
      },
      (error) => {
        if (state.stopped) return;
        state.error = error;
        state.restarts++;
        setTimeout(() => void open().catch((e) => (state.error = e)), 100);
      },
    );
  };
  return {
    seen,
    state,
    ready: open(),
    stop() {
      state.stopped = true;
      state.request?.abort();
    },
  };
}

/** Follows an executor's /events and stamps when each task's terminated event was read (to split the latency). */
function followTerminated(client) {
  const at = new Map();
  const abort = new AbortController();
  const done = (async () => {
    try {
      for await (const event of client.events(undefined, abort.signal)) {
        if (event.type === "terminated" && event.task && !at.has(event.task.name)) at.set(event.task.name, wallNow());
      }
    } catch {
      // aborted at the end, or the executor went away
    }
  })();
  return {
    at,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

export default {
  title: "7. Cluster, Tasks over 5 executors",
  async run({ quick, log }) {
    const tasks = quick ? 100 : 1000;
    const startTimeoutMs = quick ? 5 * 60_000 : 10 * 60_000;
    log("starting the Kubernetes test environment");
    let env;
    try {
      env = await startKubeTestEnv({ exportEnv: false, timeoutMs: startTimeoutMs });
    } catch (error) {
      return {
        status: "not-run",
        reason: `the Kubernetes test environment did not start within ${startTimeoutMs / 60_000} min (a cold build of its binaries takes longer; scripts/k8s-testenv.sh build first): ${String(error.message).split("\n")[0]}`,
      };
    }
    const pods = [];
    let controller;
    let watch;
    const followers = [];
    try {
      const namespace = await createTestNamespace(env, "bench");
      log(`starting ${EXECUTORS} executor pods in ${namespace}`);
      for (let i = 0; i < EXECUTORS; i++) pods.push(await startExecutorPod(env, { namespace, name: `executor-${i}`, executor: { bin: EXECUTOR_BIN, startTimeoutMs: 120_000 } }));
      for (const pod of pods) followers.push(followTerminated(pod.executor.client));
      controller = startController(env.kubeconfigPath);
      await controller.synced;
      watch = watchTasks(env, namespace);
      await watch.ready;
      const objects = env.customObjects();
      const cpuBefore = cpuSnapshot(controller.child.pid);
      const rss = sampleRss(controller.child.pid);
      const createdAt = new Map();
      log(`creating ${tasks} Tasks`);
      const t0 = performance.now();
      const createMs = await pool(tasks, 16, async (i) => {
        const name = `b${i}`;
        createdAt.set(name, performance.now());
        await objects.createNamespacedCustomObject({
          group: TASK_GROUP,
          version: TASK_VERSION,
          plural: TASK_PLURAL,
          namespace,
          body: { apiVersion: TASK_API_VERSION, kind: TASK_KIND, metadata: { name }, spec: { process: { command: ["true"] } } },
        });
      });
      const deadline = performance.now() + (quick ? 180_000 : 900_000);
      let reported = 0;
      while (watch.seen.size < tasks && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (watch.seen.size - reported >= 200) log(`${(reported = watch.seen.size)} Tasks terminal`);
      }
      const allMs = performance.now() - t0;
      const cpuSeconds = cpuSecondsSince(controller.child.pid, cpuBefore);
      const memory = rss.stop();
      const terminal = [...watch.seen.entries()];
      const exitToStatus = terminal.filter(([, s]) => s.completionTime).map(([, s]) => s.wall - Date.parse(s.completionTime));
      const createToTerminal = terminal.map(([name, s]) => s.at - createdAt.get(name));
      // The same latency in two parts: exit → the executor's terminated event (read here), that event → Task status.
      const executorEventAt = (s) => followers.map((f) => f.at.get(s.executorTaskName)).find((x) => x !== undefined);
      const split = terminal.map(([, s]) => s).filter((s) => s.completionTime && executorEventAt(s) !== undefined);
      const exitToExecutorEvent = summarize(split.map((s) => executorEventAt(s) - Date.parse(s.completionTime)), 1);
      const executorEventToStatus = summarize(split.map((s) => s.wall - executorEventAt(s)), 1);
      const phases = {};
      for (const [, s] of terminal) phases[s.phase] = (phases[s.phase] ?? 0) + 1;
      const lat = summarize(exitToStatus, 1);
      const e2e = summarize(createToTerminal, 0);
      const complete = terminal.length === tasks;
      const succeeded = phases.Succeeded ?? 0;
      return {
        parameters: { tasks, executors: EXECUTORS, command: ["true"], controllerFlags: ["--leader-elect=false", "--task-retention-count=0"], createConcurrency: 16 },
        method:
          `${tasks} Task objects (\`true\`) created 16 at a time in one namespace with ${EXECUTORS} Ready executor pods (real executors in ` +
          "network namespaces) and the built controller (a child process, no leader election). A watch on the Tasks stamps when it first " +
          "sees each terminal phase; exit → terminal is that time minus status.completionTime (the executor's finishedAt); the executors' own " +
          "`/events` are followed too, to split it at the executor's terminated event. Controller CPU " +
          "is its utime + stime (/proc) from the first create until all were terminal; RSS is sampled every 500 ms.",
        figures: {
          terminal: terminal.length,
          phases,
          createSeconds: round(createMs / 1000, 1),
          allTerminalSeconds: round(allMs / 1000, 1),
          tasksPerSecond: round((terminal.length / allMs) * 1000, 1),
          exitToTerminalStatusMs: lat,
          createToTerminalMs: e2e,
          exitToExecutorEventMs: exitToExecutorEvent,
          executorEventToTaskStatusMs: executorEventToStatus,
          controller: { cpuSeconds: round(cpuSeconds, 1), cpuMsPerTask: round((cpuSeconds * 1000) / tasks, 1), rssMaxMiB: round(memory.maxBytes / MB, 1), rssEndMiB: round(memory.lastBytes / MB, 1) },
          watchRestarts: watch.state.restarts,
        },
        targets: [
          { what: `${tasks} Tasks over ${EXECUTORS} executors all complete`, bound: `${tasks} terminal, Succeeded`, measured: `${terminal.length} terminal (${JSON.stringify(phases)}) in ${round(allMs / 1000, 1)} s`, met: complete && succeeded === tasks },
          { what: "exit → Task status terminal p99", bound: "≤ 1 s", measured: `${round(lat.p99 / 1000, 2)} s (p50 ${round(lat.p50 / 1000, 2)} s)`, met: exitToStatus.length ? lat.p99 <= 1000 : null },
          { what: "controller CPU and RSS", bound: "recorded", measured: `${round(cpuSeconds, 1)} CPU s (${round((cpuSeconds * 1000) / tasks, 1)} ms a Task), RSS max ${round(memory.maxBytes / MB, 1)} MiB`, met: null },
        ],
        highlights: [
          `created in ${round(createMs / 1000, 1)} s, all terminal after ${round(allMs / 1000, 1)} s (${round((terminal.length / allMs) * 1000, 1)} Tasks/s)`,
          `exit → terminal status: p50 ${lat.p50} ms, p90 ${lat.p90} ms, p99 ${lat.p99} ms, max ${lat.max} ms`,
          `of which exit → the executor's terminated event: p50 ${exitToExecutorEvent.p50} ms, p99 ${exitToExecutorEvent.p99} ms; that event → terminal Task status: p50 ${executorEventToStatus.p50} ms, p99 ${executorEventToStatus.p99} ms (n=${split.length})`,
          `create → terminal seen: p50 ${e2e.p50} ms, p99 ${e2e.p99} ms`,
          `controller: ${round(cpuSeconds, 1)} s CPU, RSS max ${round(memory.maxBytes / MB, 1)} MiB, at the end ${round(memory.lastBytes / MB, 1)} MiB`,
        ],
        charts: [
          {
            name: "exit",
            title: "exit → terminal Task status",
            svg: histogram({ title: `Executor exit → terminal Task status seen by a watch (${terminal.length} Tasks)`, unit: "ms", samples: exitToStatus, markers: [{ value: 1000, label: "1 s bound" }] }),
          },
        ],
      };
    } finally {
      watch?.stop();
      for (const follower of followers) await follower.stop();
      await controller?.stop();
      for (const pod of pods) await pod.stop().catch(() => undefined);
      await stopKubeTestEnv(env).catch((error) => log(`stopping the test environment: ${error.message}`));
    }
  },
};
