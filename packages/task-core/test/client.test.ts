import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ExecutorClient, ExecutorClientError, executorModes, parseSseBlock, SseDecoder, type SequencedTaskEvent } from "../src/index.js";

const TASK = { name: "t", spec: { process: { command: ["true"] } }, status: { state: { waiting: { reason: "Initialized" } } } };

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
  server = undefined;
});

/** Serves replies from a list, one per request, and counts requests. */
async function serve(handlers: Array<(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void>) {
  let calls = 0;
  server = createServer((req, res) => {
    const handler = handlers[Math.min(calls, handlers.length - 1)]!;
    calls++;
    handler(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, calls: () => calls };
}

const json = (status: number, body: unknown) => (_req: unknown, res: import("node:http").ServerResponse) => {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
};

describe("ExecutorClient against a misbehaving executor", () => {
  it("times out a slow reply with a typed error and retries safe calls", async () => {
    const target = await serve([() => undefined, () => undefined, json(200, TASK)]);
    const client = new ExecutorClient({ baseUrl: target.url, timeoutMs: 200, retries: 3, backoffMs: 10 });
    await expect(client.getTask("t")).resolves.toMatchObject({ name: "t" });
    expect(target.calls()).toBe(3);
  });

  it("never repeats a create, and reports a timeout as such", async () => {
    const target = await serve([() => undefined]);
    const client = new ExecutorClient({ baseUrl: target.url, timeoutMs: 200, retries: 5, backoffMs: 10 });
    const error = await client.createTask({ name: "t", spec: { process: { command: ["true"] } } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutorClientError);
    expect((error as ExecutorClientError).kind).toBe("timeout");
    expect(target.calls()).toBe(1);
  });

  it("reports reset connections as connection errors after bounded retries", async () => {
    const target = await serve([(req) => req.socket.destroy()]);
    const client = new ExecutorClient({ baseUrl: target.url, retries: 2, backoffMs: 10 });
    const error = (await client.listTasks().catch((e: unknown) => e)) as ExecutorClientError;
    expect(error.kind).toBe("connection");
    expect(target.calls()).toBe(2);
  });

  it("rejects garbage replies as invalid-response, never as success", async () => {
    const target = await serve([(_req, res) => res.writeHead(200).end("<html>oops</html>")]);
    const client = new ExecutorClient({ baseUrl: target.url, retries: 1 });
    expect(((await client.getTask("t").catch((e: unknown) => e)) as ExecutorClientError).kind).toBe("invalid-response");
  });

  it("rejects JSON of the wrong shape as invalid-response", async () => {
    const target = await serve([json(200, { name: 5 })]);
    const client = new ExecutorClient({ baseUrl: target.url, retries: 1 });
    expect(((await client.getTask("t").catch((e: unknown) => e)) as ExecutorClientError).kind).toBe("invalid-response");
  });

  it("surfaces API errors with their code and status, without retrying", async () => {
    const target = await serve([json(404, { code: "NotFound", message: "task t not found" })]);
    const client = new ExecutorClient({ baseUrl: target.url, retries: 3 });
    const error = (await client.getTask("t").catch((e: unknown) => e)) as ExecutorClientError;
    expect(error).toMatchObject({ kind: "api", status: 404, code: "NotFound" });
    expect(target.calls()).toBe(1);
  });

  it("retries 503 replies of safe calls", async () => {
    const target = await serve([json(503, { code: "Unavailable", message: "busy" }), json(200, [TASK])]);
    const client = new ExecutorClient({ baseUrl: target.url, retries: 3, backoffMs: 10 });
    await expect(client.listTasks()).resolves.toHaveLength(1);
  });

  it("sends the bearer token", async () => {
    let seen: string | undefined;
    const target = await serve([(req, res) => {
      seen = req.headers.authorization;
      json(200, { status: "healthy", auth: "enabled", modes: ["process"], sidecar: false })(req, res);
    }]);
    await new ExecutorClient({ baseUrl: target.url, token: "s3cret" }).health();
    expect(seen).toBe("Bearer s3cret");
  });
});

describe("ExecutorClient.health", () => {
  it("accepts the reply of an earlier executor without modes and sidecar, which runs processes only", async () => {
    const target = await serve([json(200, { status: "healthy", auth: "disabled" })]);
    const health = await new ExecutorClient({ baseUrl: target.url, retries: 1 }).health();
    expect(health).toEqual({ status: "healthy", auth: "disabled" });
    expect(executorModes(health)).toEqual(["process"]);
  });

  it("reads the modes and sidecar mode of a current executor", async () => {
    const target = await serve([json(200, { status: "healthy", auth: "enabled", modes: ["process", "container"], sidecar: true, version: "1.2.3" })]);
    const health = await new ExecutorClient({ baseUrl: target.url, retries: 1 }).health();
    expect(health).toMatchObject({ modes: ["process", "container"], sidecar: true, version: "1.2.3" });
    expect(executorModes(health)).toEqual(["process", "container"]);
  });

  it.each([
    { status: "healthy", auth: "disabled", modes: [] },
    { status: "healthy", auth: "disabled", modes: ["gpu"] },
    { status: "healthy", auth: "disabled", sidecar: "yes" },
    { status: "starting", auth: "disabled", modes: ["process"], sidecar: false },
  ])("still refuses a reply of the wrong shape: %j", async (body) => {
    const target = await serve([json(200, body)]);
    const error = (await new ExecutorClient({ baseUrl: target.url, retries: 1 }).health().catch((e: unknown) => e)) as ExecutorClientError;
    expect(error).toBeInstanceOf(ExecutorClientError);
    expect(error.kind).toBe("invalid-response");
  });
});

describe("parseSseBlock", () => {
  it("parses an event with id, type and task", () => {
    const block = `id: 7\nevent: created\ndata: ${JSON.stringify({ type: "created", task: TASK })}`;
    expect(parseSseBlock(block)).toMatchObject({ id: 7, type: "created", task: { name: "t" } });
  });
  it.each([": keep-alive", "event: created", "id: x\ndata: {}", "id: 1\ndata: not json"])("ignores %j", (block) => {
    expect(parseSseBlock(block)).toBeUndefined();
  });
});

/** Events whose task env holds 2-, 3- and 4-byte UTF-8 characters, and their bytes on the wire. */
function multiByteStream() {
  const values = ["é ü ß", "€ 中文 ✓", "😀 𝄞 🚀", "é€😀".repeat(50)];
  const events: SequencedTaskEvent[] = values.map((value, index) => ({
    id: index + 1,
    type: "created",
    task: { ...TASK, name: `t${index}`, spec: { process: { command: ["true"], env: [{ name: "V", value }] } } },
  }));
  const text = `: connected; last event id 0\n\n${events.map(({ id, ...payload }) => `id: ${id}\nevent: ${payload.type}\ndata: ${JSON.stringify(payload)}\n\n`).join("")}`;
  return { events, bytes: Buffer.from(text, "utf8") };
}

describe("SseDecoder", () => {
  const { events, bytes } = multiByteStream();

  it("decodes multi-byte characters split at every offset of the stream", () => {
    for (let offset = 0; offset <= bytes.length; offset++) {
      const decoder = new SseDecoder();
      const got = [...decoder.push(bytes.subarray(0, offset)), ...decoder.push(bytes.subarray(offset))];
      expect(got, `split at byte ${offset}`).toEqual(events);
    }
  });

  it("decodes a stream fed one byte at a time", () => {
    const decoder = new SseDecoder();
    const got: SequencedTaskEvent[] = [];
    for (let i = 0; i < bytes.length; i++) got.push(...decoder.push(bytes.subarray(i, i + 1)));
    expect(got).toEqual(events);
  });
});

describe("ExecutorClient.events over a real socket", () => {
  it("keeps multi-byte characters intact when the stream arrives a few bytes at a time", async () => {
    const { events, bytes } = multiByteStream();
    const target = await serve([
      (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.socket?.setNoDelay(true);
        void (async () => {
          // Cuts of 1 to 3 bytes: every multi-byte character is split somewhere, most of them more than once.
          for (let i = 0, size = 1; i < bytes.length; i += size, size = (size % 3) + 1) {
            res.write(bytes.subarray(i, i + size));
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
          res.end();
        })();
      },
    ]);
    const client = new ExecutorClient({ baseUrl: target.url });
    const got: SequencedTaskEvent[] = [];
    for await (const event of client.events()) got.push(event);
    expect(got).toEqual(events);
  });
});
