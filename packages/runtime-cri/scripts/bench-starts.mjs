// Times N sequential busybox tasks (`true`) against the tests' private containerd. Not a test: a measurement to
// compare designs. Build first (pnpm --filter @org/runtime-cri run build); run as root:
//   node packages/runtime-cri/scripts/bench-starts.mjs [count] [runtime|direct]
// runtime: start() → wait() (the runtime removes container and sandbox before wait resolves);
// direct: the same CRI calls made straight from here (sandbox, create, start, poll until exited, remove).
// BENCH_DIST=<dir> runs another build of the package (an older design, to compare).
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startContainerd } from "@org/testkit";

const count = Number(process.argv[2] ?? 20);
const mode = process.argv[3] ?? "runtime";
const dist = process.env.BENCH_DIST ? pathToFileURL(`${process.env.BENCH_DIST}/`).href : new URL("../dist/", import.meta.url).href;
const { createCriRuntime, CriClient, containerConfig, sandboxConfig } = await import(`${dist}index.js`);
const pollMs = 50;

// The runtime's poll timer does not keep a process alive (an executor has its server for that).
const alive = setInterval(() => undefined, 1000);
const env = await startContainerd();
const root = mkdtempSync(join(tmpdir(), "bench-starts-"));
const executorId = `bench-${randomUUID().slice(0, 8)}`;
const runtime = createCriRuntime({ socketPath: env.socketPath, executorId, volumes: {}, graceMs: 1000, maxLogBytes: 0, pollIntervalMs: pollMs });
const client = new CriClient(env.socketPath);
const newTask = (i) => ({ name: `bench-${i}`, dir: mkdtempSync(join(root, `t${i}-`)), spec: { container: { image: env.images.busybox, command: ["true"] } } });

async function throughRuntime(task) {
  const result = await runtime.wait(task, await runtime.start(task));
  if (result.exitCode !== 0) throw new Error(`${task.name}: ${JSON.stringify(result)}`);
}

async function direct(task) {
  await client.imageStatus(env.images.busybox);
  const podConfig = sandboxConfig(task, executorId, randomUUID());
  const sandboxId = await client.runPodSandbox(podConfig);
  const containerId = await client.createContainer(sandboxId, containerConfig(task, executorId, {}), podConfig);
  await client.startContainer(containerId);
  while ((await client.containerStatus(containerId)).state !== "CONTAINER_EXITED") await new Promise((resolve) => setTimeout(resolve, pollMs));
  await client.removeContainer(containerId);
  await client.stopPodSandbox(sandboxId);
  await client.removePodSandbox(sandboxId);
}

const run = mode === "direct" ? direct : throughRuntime;
try {
  await run(newTask("warm")); // first connection, image lookup, helper spawn: not counted
  const begin = performance.now();
  for (let i = 0; i < count; i++) await run(newTask(i));
  const total = performance.now() - begin;
  console.log(`${mode}: ${count} tasks in ${total.toFixed(0)} ms, ${(total / count).toFixed(0)} ms a task`);
} finally {
  clearInterval(alive);
  await runtime.close();
  client.close();
  await env.stop();
  rmSync(root, { recursive: true, force: true });
}
