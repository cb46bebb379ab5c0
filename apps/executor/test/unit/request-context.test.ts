import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import { describe, expect, it } from "vitest";
import type { Logger } from "@org/task-core";
import { requestId, withRequestIds } from "../../src/http/request-context.js";

/** Collects what the wrapped logger would have written. */
function recordingLogger(lines: Array<Record<string, unknown>>): Logger {
  const write = (level: string) => (message: string, meta?: Record<string, unknown>) => lines.push({ level, message, ...meta });
  return { error: write("error"), warn: write("warn"), info: write("info"), debug: write("debug") };
}

describe("withRequestIds", () => {
  it("adds the request's id to lines written while it is handled, past a body that arrives late, the body parser and awaits, and not after", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = withRequestIds(recordingLogger(lines));
    let later: Promise<void> | undefined;
    const app = express();
    app.use(requestId());
    app.use(express.json());
    app.post("/work", async (_request, response) => {
      await sleep(5);
      logger.info("inside", { task: "t" });
      // Work the request starts that outlives it: its lines must not claim the request.
      later = sleep(50).then(() => void logger.warn("after"));
      response.json({});
    });
    const server = http.createServer(app).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      // The body comes in two writes 100 ms apart, so the parser resumes the request from a later socket event.
      const reply = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const headers = { "content-type": "application/json", "x-request-id": "r-1" };
        const request = http.request({ port, host: "127.0.0.1", method: "POST", path: "/work", headers }, resolve);
        request.on("error", reject);
        request.write("{");
        setTimeout(() => request.end("}"), 100);
      });
      reply.resume();
      expect(reply.headers["x-request-id"]).toBe("r-1");
      await later;
      logger.info("outside");
      expect(lines).toEqual([
        { level: "info", message: "inside", task: "t", reqId: "r-1" },
        { level: "warn", message: "after" },
        { level: "info", message: "outside" },
      ]);
    } finally {
      server.close();
    }
  });
});
