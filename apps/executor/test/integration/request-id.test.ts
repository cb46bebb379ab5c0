import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw } from "./helpers.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The log lines (JSON) the executor printed so far. */
function logLines(executor: ExecutorProcess): Array<Record<string, unknown>> {
  return executor.output.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

describe("request ids", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--log-level=debug"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("a valid X-Request-Id is echoed", async () => {
    const reply = await raw(executor, "GET", "/health", undefined, { "x-request-id": "client-id_42.A:b" });
    expect(reply.headers.get("x-request-id")).toBe("client-id_42.A:b");
  });

  it("without one, the reply carries a new UUID, different for each request", async () => {
    const first = (await raw(executor, "GET", "/health")).headers.get("x-request-id");
    const second = (await raw(executor, "GET", "/getTasks")).headers.get("x-request-id");
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(second).not.toBe(first);
  });

  it("an invalid one (too long, spaces, control characters) is replaced by a UUID", async () => {
    for (const bad of ["x".repeat(129), "two words", "tab\there", ""]) {
      const reply = await raw(executor, "GET", "/health", undefined, { "x-request-id": bad });
      expect(reply.headers.get("x-request-id"), JSON.stringify(bad)).toMatch(UUID);
    }
  });

  it("error replies carry it too, and the executor's log lines of that request carry it as reqId", async () => {
    const badBody = await raw(executor, "POST", "/tasks", "{broken", { "x-request-id": "bad-json-1" });
    expect(badBody.status).toBe(400);
    expect(badBody.headers.get("x-request-id")).toBe("bad-json-1");
    const missing = await raw(executor, "GET", "/tasks/nope", undefined, { "x-request-id": "missing-1" });
    expect(missing.status).toBe(404);

    const lines = await waitFor(() => {
      const found = logLines(executor).filter((line) => line.reqId === "bad-json-1" || line.reqId === "missing-1");
      return found.length >= 4 ? found : undefined;
    });
    // The rejection (error handler) and the access line, each with the fields named alike across the executor.
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: "debug", message: "request rejected", reqId: "bad-json-1", status: 400, code: "InvalidJSON", method: "POST" }),
        expect.objectContaining({ level: "debug", message: "request", reqId: "bad-json-1", status: 400, method: "POST", route: "unmatched" }),
        expect.objectContaining({ level: "debug", message: "request rejected", reqId: "missing-1", code: "NotFound", route: "/tasks/:name", task: "nope", error: "task nope not found" }),
        expect.objectContaining({ level: "debug", message: "request", reqId: "missing-1", status: 404, method: "GET", route: "/tasks/:name", task: "nope" }),
      ]),
    );
    for (const line of lines.filter((line) => line.message === "request")) expect(line.durationMs).toEqual(expect.any(Number));
  });
});
