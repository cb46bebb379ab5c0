import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ExecutorConnection } from "../../src/executors/connection.js";

type Mode = "garbage" | "reset" | "good";

/** A real HTTP server on loopback that answers like an executor, or badly, as told. */
async function flakyExecutor(): Promise<{ server: Server; address: string; setMode(mode: Mode): void; requests: string[] }> {
  let mode: Mode = "garbage";
  const requests: string[] = [];
  const task = { name: "t1", spec: { process: { command: ["true"] } }, status: { state: { running: { startedAt: new Date().toISOString() } } } };
  const server = createServer((request, response) => {
    requests.push(`${mode} ${request.method} ${request.url}`);
    if (mode === "reset") return request.socket.destroy();
    if (mode === "garbage") return response.writeHead(200, { "content-type": "application/json" }).end("<html>not json");
    const path = (request.url ?? "").split("?")[0];
    if (path === "/health") return response.writeHead(200).end(JSON.stringify({ status: "healthy", auth: "disabled", modes: ["process", "container"], sidecar: false }));
    if (path === "/getTasks") return response.writeHead(200).end(JSON.stringify([task]));
    if (path === "/events") {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(`id: 5\nevent: reset\ndata: ${JSON.stringify({ type: "reset", reason: "resume" })}\n\n`);
      return;
    }
    response.writeHead(404).end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, address: `127.0.0.1:${port}`, setMode: (next) => (mode = next), requests };
}

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

describe("ExecutorConnection against a misbehaving executor", () => {
  it("counts no garbage reply or reset connection as contact, reports failures, and recovers when answers return", async () => {
    const fake = await flakyExecutor();
    closers.push(() => fake.server.close());
    const warnings: Record<string, unknown>[] = [];
    const logger = { error() {}, info() {}, debug() {}, warn: (_message: string, meta?: Record<string, unknown>) => warnings.push(meta ?? {}) };
    let changedTasks: string[] = [];
    const connection = new ExecutorConnection({
      key: "ns/pod",
      address: fake.address,
      token: undefined,
      logger,
      onTasksChanged: (names) => (changedTasks = [...changedTasks, ...names]),
      onExecutorChanged: () => undefined,
      desiredSet: () => [],
      healthIntervalMs: 100,
    });
    closers.push(() => connection.close());
    const before = connection.lastContactMs;
    connection.start();
    for (const mode of ["garbage", "reset"] as const) {
      fake.setMode(mode);
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(connection.healthy).toBe(false);
      expect(connection.listed).toBe(false);
      expect(connection.lastContactMs).toBe(before);
    }
    expect(warnings.length).toBeGreaterThan(0);
    expect(warnings[0]).toMatchObject({ executor: "ns/pod", address: fake.address });
    // Retried with backoff: many requests, yet far fewer than a busy loop would make.
    expect(fake.requests.length).toBeGreaterThan(4);
    expect(fake.requests.length).toBeLessThan(200);
    fake.setMode("good");
    // Recovered once the backed-off retries come round (polled: a loaded machine stretches the backoff's timers).
    const deadline = Date.now() + 20_000;
    while (!(connection.healthy && connection.listed && connection.observed.has("t1")) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(connection.healthy).toBe(true);
    expect(connection.modes).toEqual(["process", "container"]);
    expect(connection.listed).toBe(true);
    expect(connection.observed.has("t1")).toBe(true);
    expect(changedTasks).toContain("t1");
    expect(connection.lastContactMs).toBeGreaterThan(before);
  }, 30_000);
});
