// Containers: N busybox `true` tasks through the executor's CRI runtime, one at a time, against the same CRI calls
// made directly by a minimal client (ImageStatus, RunPodSandbox, CreateContainer, StartContainer, ContainerStatus
// until exited, RemoveContainer, StopPodSandbox, RemovePodSandbox) with the same sandbox and container configs,
// interleaved task by task so that both see the same machine. Uses the testkit's private containerd.
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CriClient, containerConfig, sandboxConfig } from "@org/runtime-cri";
import { containerdSkipReason, startContainerd } from "@org/testkit";
import { Http, openFeed, startBenchExecutor } from "../lib/executor.mjs";
import { cdfChart } from "../lib/svg.mjs";
import { round, sleep, summarize } from "../lib/stats.mjs";

const DIRECT_POLL_MS = 10;

async function directTask(client, root, image, i) {
  const task = { name: `direct-${i}`, spec: { container: { image, command: ["true"] } }, dir: await mkdtemp(join(root, "direct-")) };
  const t0 = performance.now();
  const config = sandboxConfig(task, "bench-direct", randomUUID());
  if (!(await client.imageStatus(image))) throw new Error(`image ${image} is not present`);
  const sandboxId = await client.runPodSandbox(config);
  const containerId = await client.createContainer(sandboxId, containerConfig(task, "bench-direct", {}), config);
  await client.startContainer(containerId);
  let status;
  for (;;) {
    status = await client.containerStatus(containerId);
    if (status.state === "CONTAINER_EXITED") break;
    await sleep(DIRECT_POLL_MS);
  }
  await client.removeContainer(containerId);
  await client.stopPodSandbox(sandboxId);
  await client.removePodSandbox(sandboxId);
  const ms = performance.now() - t0;
  if (status.exit_code !== 0) throw new Error(`direct container ${i} exited ${status.exit_code}`);
  return ms;
}

export default {
  title: "6. Containers through CRI",
  async run({ quick, log }) {
    const tasks = quick ? 10 : 50;
    const skip = containerdSkipReason();
    if (skip) return { status: "not-run", reason: `containerd cannot run here: ${skip}` };
    log("starting the private containerd");
    let containerd;
    try {
      containerd = await startContainerd();
    } catch (error) {
      return { status: "not-run", reason: `the testkit's containerd did not start: ${String(error.message).split("\n")[0]}` };
    }
    const image = containerd.images.busybox;
    const root = await mkdtemp(join(tmpdir(), "bench-cri-"));
    const client = new CriClient(containerd.socketPath);
    const executor = await startBenchExecutor(["--retain-per-group=0", "--enable-container-mode=true", `--cri-socket=${containerd.socketPath}`]);
    const http = new Http(executor.url, 4);
    const feed = await openFeed(executor, http);
    const direct = [];
    const viaExecutor = [];
    const runExecutor = async (name) => {
      const terminated = feed.next("terminated", name, 120_000);
      const t0 = performance.now();
      await http.create({ name, spec: { container: { image, command: ["true"] } } });
      const { event, at } = await terminated;
      const state = event.task.status.state.terminated;
      if (state.exitCode !== 0) throw new Error(`${name} ended ${JSON.stringify(state)}`);
      return at - t0;
    };
    try {
      log("warm-up (one of each, not counted)");
      await directTask(client, root, image, "warm");
      await runExecutor("warm");
      for (let i = 0; i < tasks; i++) {
        direct.push(await directTask(client, root, image, i));
        viaExecutor.push(await runExecutor(`c${i}`));
      }
    } finally {
      await feed.close();
      http.close();
      await executor.kill();
      client.close();
      await rm(executor.dataDir, { recursive: true, force: true });
      await rm(root, { recursive: true, force: true });
      await containerd.stop().catch(() => undefined);
    }
    const sum = (xs) => xs.reduce((a, b) => a + b, 0);
    const ratio = round(sum(viaExecutor) / sum(direct), 2);
    const d = summarize(direct, 1);
    const e = summarize(viaExecutor, 1);
    return {
      parameters: { tasks, image, command: ["true"], directPollMs: DIRECT_POLL_MS },
      method:
        `${tasks} busybox \`true\` containers one at a time, alternating: the executor (POST /tasks → terminated event, which it ` +
        "sends after it collected the exit and removed container and sandbox) and a minimal direct CRI client making the same calls " +
        `with the executor's own sandbox and container configs, polling ContainerStatus every ${DIRECT_POLL_MS} ms. One warm-up of each first.`,
      figures: { directMs: d, executorMs: e, directTotalMs: round(sum(direct), 0), executorTotalMs: round(sum(viaExecutor), 0) },
      targets: [{ what: `${tasks} containers through the executor vs direct CRI calls`, bound: "≤ 1.2×", measured: `${ratio}× (${round(sum(viaExecutor), 0)} vs ${round(sum(direct), 0)} ms)`, met: ratio <= 1.2 }],
      highlights: [
        `per container, direct CRI: p50 ${d.p50} ms, p99 ${d.p99} ms`,
        `per container, through the executor: p50 ${e.p50} ms, p99 ${e.p99} ms`,
      ],
      charts: [
        {
          name: "per-task",
          title: "per container",
          svg: cdfChart({
            title: "One busybox container, start to collected exit",
            unit: "ms",
            series: [
              { label: "direct CRI client", samples: direct },
              { label: "executor (POST /tasks → terminated)", samples: viaExecutor },
            ],
          }),
        },
      ],
    };
  },
};
