import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw, shTask, waitTerminated } from "./helpers.js";

async function logs(executor: ExecutorProcess, name: string, query = ""): Promise<string> {
  const reply = await raw(executor, "GET", `/tasks/${name}/logs${query}`);
  expect(reply.status).toBe(200);
  return reply.text;
}

describe("task logs", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--max-log-bytes-per-task=16Ki"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("serves the output of a running task and keeps it after the task finished", async () => {
    await executor.client.createTask(shTask("talker", "echo one; echo two >&2; sleep 1; echo three"));
    await waitFor(async () => (await logs(executor, "talker")) === "one\ntwo\n");
    await waitTerminated(executor, "talker");
    expect(await logs(executor, "talker")).toBe("one\ntwo\nthree\n");
    expect(await logs(executor, "talker", "?stream=stdout")).toBe("one\nthree\n");
    expect(await logs(executor, "talker", "?stream=stderr")).toBe("two\n");
  });

  it("interleaves stdout and stderr in write order", async () => {
    await executor.client.createTask(shTask("interleave", "for i in 1 2 3; do echo out$i; sleep 0.02; echo err$i >&2; sleep 0.02; done"));
    await waitTerminated(executor, "interleave");
    expect(await logs(executor, "interleave")).toBe("out1\nerr1\nout2\nerr2\nout3\nerr3\n");
  });

  it("supports tailLines, limitBytes, timestamps, sinceTime and sinceSeconds", async () => {
    await executor.client.createTask(shTask("numbers", "for i in $(seq 1 10); do echo line$i; done; sleep 1.2; echo late"));
    await waitTerminated(executor, "numbers");
    expect(await logs(executor, "numbers", "?tailLines=2")).toBe("line10\nlate\n");
    expect(await logs(executor, "numbers", "?limitBytes=8")).toBe("line1\nli");
    const stamped = (await logs(executor, "numbers", "?timestamps=true&tailLines=1")).trimEnd();
    const [time, text] = stamped.split(" ");
    expect(Date.parse(time!)).not.toBeNaN();
    expect(text).toBe("late");
    const lateAt = new Date(Date.parse(time!) - 100).toISOString();
    expect(await logs(executor, "numbers", `?sinceTime=${encodeURIComponent(lateAt)}`)).toBe("late\n");
    expect(await logs(executor, "numbers", "?sinceSeconds=3600")).toContain("line1\n");
  });

  it("returns binary and invalid UTF-8 output byte for byte", async () => {
    await executor.client.createTask(shTask("binary", "printf '\\377\\376\\000abc\\r\\n\\351t\\351'"));
    await waitTerminated(executor, "binary");
    const bytes = await executor.client.logs("binary");
    expect([...bytes]).toEqual([0xff, 0xfe, 0x00, 0x61, 0x62, 0x63, 0x0d, 0x0a, 0xe9, 0x74, 0xe9]);
  });

  it("follow=true streams new output and ends when the task ends", async () => {
    await executor.client.createTask(shTask("follow-me", "for i in 1 2 3; do echo tick$i; sleep 0.3; done"));
    const stream = await executor.client.streamLogs("follow-me");
    let text = "";
    for await (const chunk of stream) text += (chunk as Buffer).toString();
    expect(text).toBe("tick1\ntick2\ntick3\n");
    expect("terminated" in (await executor.client.getTask("follow-me")).status.state).toBe(true);
  });

  it("follow of a finished task returns everything and ends", async () => {
    await executor.client.createTask(shTask("done-follow", "echo finished"));
    await waitTerminated(executor, "done-follow");
    let text = "";
    for await (const chunk of await executor.client.streamLogs("done-follow")) text += (chunk as Buffer).toString();
    expect(text).toBe("finished\n");
  });

  it("a follower that goes away does not disturb the executor", async () => {
    await executor.client.createTask(shTask("abandoned", "sleep 2; echo bye"));
    await new Promise<void>((resolve) => {
      const req = request(`${executor.url}/tasks/abandoned/logs?follow=true`, () => {
        req.destroy();
        resolve();
      });
      req.end();
    });
    await waitTerminated(executor, "abandoned");
    expect((await executor.client.health()).status).toBe("healthy");
  });

  it("caps a task's log: keeps the newest output and marks the log truncated", async () => {
    await executor.client.createTask(shTask("flood", "i=0; while [ $i -lt 3000 ]; do echo \"row $i of the flood\"; i=$((i+1)); done"));
    const state = await waitTerminated(executor, "flood", 30_000);
    expect(state.exitCode).toBe(0);
    const task = await executor.client.getTask("flood");
    expect(task.status.logTruncated).toBe(true);
    const text = await logs(executor, "flood");
    expect(text.endsWith("row 2999 of the flood\n")).toBe(true);
    expect(text).not.toContain("row 0 of the flood\n");
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(16 * 1024);
  });
});

describe("task logs larger than a reply buffer", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--max-log-bytes-per-task=64Mi"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("are streamed in pieces (chunked, without a length) and arrive whole", { timeout: 60_000 }, async () => {
    const lineText = "a line of the big log 0123456789 abcdefghijklmnopqrstuvwxyz";
    const bytes = 12_000_000;
    await executor.client.createTask(shTask("big", `yes '${lineText}' | head -c ${bytes}`));
    await waitTerminated(executor, "big", 60_000);
    const expected = `${lineText}\n`.repeat(Math.ceil(bytes / (lineText.length + 1))).slice(0, bytes);
    const reply = await raw(executor, "GET", "/tasks/big/logs");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("transfer-encoding")).toBe("chunked");
    expect(reply.headers.get("content-length")).toBeNull();
    expect(reply.text.length).toBe(bytes);
    expect(reply.text === expected).toBe(true);
    expect(await logs(executor, "big", "?tailLines=2")).toBe(expected.slice(expected.lastIndexOf(lineText, expected.length - lineText.length - 2)));
  });

  it("HEAD answers the headers of a logs reply without reading the log", async () => {
    const reply = await raw(executor, "HEAD", "/tasks/big/logs");
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(reply.text).toBe("");
    expect((await raw(executor, "HEAD", "/tasks/nope/logs")).status).toBe(404);
  });
});
