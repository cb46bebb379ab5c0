import { readFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { parseSseBlock, type SequencedTaskEvent } from "@org/task-core";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { recordEvents } from "../integration/sse.js";

/**
 * A client of `/events` that stops reading must not make the executor hold every event for it: what one client
 * may have pending is bounded, and past the bound the client is dropped (it resumes with Last-Event-ID).
 */
const TASKS = 40;
const ENV_BYTES = 1024 * 1024;
/** A heap limit keeps the garbage collector's slack (the noise of an RSS comparison) small. */
const NODE_ENV = { NODE_OPTIONS: "--max-old-space-size=192" };

async function rssBytes(executor: ExecutorProcess): Promise<number> {
  const status = await readFile(`/proc/${executor.child.pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** Runs TASKS tasks whose spec (and so each of their events) carries ENV_BYTES, and waits until all ended. */
async function workload(executor: ExecutorProcess): Promise<void> {
  const value = "v".repeat(ENV_BYTES);
  for (let i = 0; i < TASKS; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, TASKS - i) }, (_, j) =>
        executor.client.createTask({ name: `bulk-${i + j}`, spec: { process: { command: ["true"], env: [{ name: "BIG", value }] } } }),
      ),
    );
  }
  await waitFor(async () => (await executor.client.listTasks()).every((task) => "terminated" in task.status.state), 120_000, 250);
}

/** A raw HTTP connection to /events that never reads; `resume` reads what arrived until the server closes it. */
function stalledReader(url: string): Promise<{ socket: Socket; drain(): Promise<{ body: string; closedByServer: boolean }> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET /events HTTP/1.1\r\nHost: ${hostname}\r\nAccept: text/event-stream\r\n\r\n`);
      socket.pause();
      resolve({
        socket,
        drain: () =>
          new Promise((done) => {
            const chunks: Buffer[] = [];
            const timer = setTimeout(() => {
              socket.destroy();
              done({ body: Buffer.concat(chunks).toString("utf8"), closedByServer: false });
            }, 30_000);
            socket.on("data", (chunk: Buffer) => chunks.push(chunk));
            socket.on("close", () => {
              clearTimeout(timer);
              done({ body: Buffer.concat(chunks).toString("utf8"), closedByServer: true });
            });
            socket.on("error", () => undefined);
            socket.resume();
          }),
      });
    });
    socket.once("error", reject);
  });
}

/** The complete events of a chunked HTTP response body as received (a cut-off tail is left out). */
function eventsOf(raw: string): SequencedTaskEvent[] {
  let rest = raw.slice(raw.indexOf("\r\n\r\n") + 4);
  let text = "";
  for (;;) {
    const line = rest.indexOf("\r\n");
    if (line < 0) break;
    const size = parseInt(rest.slice(0, line), 16);
    if (!Number.isFinite(size) || size === 0 || rest.length < line + 2 + size) break;
    text += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 2 + size + 2);
  }
  return text
    .split("\n\n")
    .slice(0, -1)
    .map(parseSseBlock)
    .filter((event): event is SequencedTaskEvent => event !== undefined);
}

describe("a stalled /events reader", () => {
  const executors: ExecutorProcess[] = [];
  afterAll(async () => {
    for (const executor of executors) await executor.kill();
  });

  it("costs next to no memory, is dropped, and resumes with Last-Event-ID", { timeout: 600_000 }, async () => {
    const baseline = await startExecutor({ args: ["--retention-interval=1h"], env: NODE_ENV });
    executors.push(baseline);
    await workload(baseline);
    const baselineRss = await rssBytes(baseline);
    await baseline.kill();

    const executor = await startExecutor({ args: ["--retention-interval=1h"], env: NODE_ENV });
    executors.push(executor);
    const reader = await stalledReader(executor.url);
    await workload(executor);
    const stalledRss = await rssBytes(executor);
    const extra = stalledRss - baselineRss;
    console.log(`RSS without a reader ${(baselineRss / 2 ** 20).toFixed(1)} MiB, with a stalled reader ${(stalledRss / 2 ** 20).toFixed(1)} MiB`);
    // Unbounded, the stalled reader would hold about TASKS * 3 events * ENV_BYTES = 120 MiB; bounded, 4 MiB and
    // one event. The margin is for the garbage collector's timing on a loaded machine (61 MiB was seen once).
    expect(extra).toBeLessThan(90 * 2 ** 20);
    expect(executor.output.some((line) => line.includes("dropping an /events client that does not read"))).toBe(true);

    console.log("draining the stalled reader");
    const { body, closedByServer } = await reader.drain();
    expect(closedByServer).toBe(true);
    const received = eventsOf(body);
    expect(received.length).toBeGreaterThan(0);
    expect(received.length).toBeLessThan(TASKS * 3);
    const lastReceived = received.at(-1)!.id;

    console.log(`resuming after ${lastReceived}`);
    const resumed = await recordEvents(`${executor.url}/events`, { "last-event-id": String(lastReceived) });
    await waitFor(() => resumed.events.length >= TASKS * 3 - received.length, 60_000);
    const ids = [...received, ...resumed.events].map((event) => event.id);
    expect(resumed.events[0]!.type).not.toBe("reset");
    expect(ids).toEqual(Array.from({ length: TASKS * 3 }, (_, i) => ids[0]! + i));
    resumed.close();
  });
});
