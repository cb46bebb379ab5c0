import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, type ExecutorProcess } from "@org/testkit";
import { raw } from "./helpers.js";

const valid = (name: string) => JSON.stringify({ name, spec: { process: { command: ["true"] } } });

describe("bad input gets a clear JSON error, never a 500", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--max-request-bytes=64Ki"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("invalid JSON is 400 InvalidJSON", async () => {
    const reply = await raw(executor, "POST", "/tasks", "{not json");
    expect(reply.status).toBe(400);
    expect(reply.json).toMatchObject({ code: "InvalidJSON" });
  });

  it.each([
    ["missing spec", { name: "a" }, "spec"],
    ["command not an array", { name: "a", spec: { process: { command: "ls" } } }, "spec.process.command"],
    ["empty command", { name: "a", spec: { process: { command: [] } } }, "spec.process.command"],
    ["negative timeout", { name: "a", spec: { process: { command: ["true"], timeoutSeconds: -1 } } }, "spec.process.timeoutSeconds"],
    ["fractional timeout", { name: "a", spec: { process: { command: ["true"], timeoutSeconds: 1.5 } } }, "spec.process.timeoutSeconds"],
    ["both process and container", { name: "a", spec: { process: { command: ["true"] }, container: { image: "x" } } }, "spec"],
    ["env without name", { name: "a", spec: { process: { command: ["true"], env: [{ value: "x" }] } } }, "spec.process.env[0].name"],
    ["relative workingDir", { name: "a", spec: { process: { command: ["true"], workingDir: "tmp" } } }, "spec.process.workingDir"],
    ["a body that is not an object", "hello", "(body)"],
  ])("%s is 400 naming the field", async (_label, body, field) => {
    const reply = await raw(executor, "POST", "/tasks", JSON.stringify(body));
    expect(reply.status).toBe(400);
    expect(reply.json?.code).toBe("InvalidRequest");
    expect(String(reply.json?.message)).toContain(field);
    expect(reply.json?.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: field })]));
  });

  it.each([
    ["empty", ""],
    ["too long", "a".repeat(513)],
    ["dot", "."],
    ["dot dot", ".."],
    ["path escape", "../x"],
    ["slash", "a/b"],
    ["leading dash", "-a"],
  ])("a task name that is %s is 400", async (_label, name) => {
    const reply = await raw(executor, "POST", "/tasks", valid(name));
    expect(reply.status).toBe(400);
    expect(String(reply.json?.message)).toContain("name");
  });

  it.each([253, 254, 512])("a %i-character name is accepted", async (length) => {
    const reply = await raw(executor, "POST", "/tasks", valid(`${length}-`.padEnd(length, "a")));
    expect(reply.status).toBe(201);
  });

  it.each(["..", "%2e%2e", "..%2Fx", "a%2Fb"])("a bad name in the path (%s) is 400 or 404, never a file outside the data dir", async (name) => {
    const reply = await raw(executor, "GET", `/tasks/${name}`);
    expect([400, 404]).toContain(reply.status);
    expect(reply.json?.code).toBeDefined();
  });

  it("a duplicate name is 409", async () => {
    expect((await raw(executor, "POST", "/tasks", valid("dup"))).status).toBe(201);
    const reply = await raw(executor, "POST", "/tasks", valid("dup"));
    expect(reply.status).toBe(409);
    expect(reply.json).toMatchObject({ code: "AlreadyExists" });
  });

  it("an unknown task is 404 on get, delete, stop and logs", async () => {
    for (const [method, path] of [["GET", "/tasks/nope"], ["DELETE", "/tasks/nope"], ["POST", "/tasks/nope/stop"], ["GET", "/tasks/nope/logs"]] as const) {
      const reply = await raw(executor, method, path);
      expect(reply.status, `${method} ${path}`).toBe(404);
      expect(reply.json).toMatchObject({ code: "NotFound" });
    }
  });

  it("an oversized body is 413", async () => {
    const big = JSON.stringify({ name: "big", spec: { process: { command: ["true"], args: ["x".repeat(100_000)] } } });
    const reply = await raw(executor, "POST", "/tasks", big);
    expect(reply.status).toBe(413);
    expect(reply.json).toMatchObject({ code: "PayloadTooLarge" });
  });

  it("an unknown path is 404 and a wrong method 405, both JSON", async () => {
    expect((await raw(executor, "GET", "/nothing")).json).toMatchObject({ code: "NotFound" });
    const wrong = await raw(executor, "PUT", "/tasks/x");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toContain("GET");
  });

  it("an invalid entry of /setTasks rejects the whole request, names index and field, and changes nothing", async () => {
    const before = await executor.client.listTasks();
    const body = JSON.stringify([
      { name: "sync-ok", spec: { process: { command: ["true"] } } },
      { name: "sync-bad", spec: { process: { command: [] } } },
    ]);
    const reply = await raw(executor, "POST", "/setTasks", body);
    expect(reply.status).toBe(400);
    expect(String(reply.json?.message)).toContain("[1].spec.process.command");
    const after = await executor.client.listTasks();
    expect(after.map((task) => task.name)).toEqual(before.map((task) => task.name));
  });

  it("duplicate names inside /setTasks are 400", async () => {
    const entry = { name: "twice", spec: { process: { command: ["true"] } } };
    const reply = await raw(executor, "POST", "/setTasks", JSON.stringify([entry, entry]));
    expect(reply.status).toBe(400);
    expect(String(reply.json?.message)).toContain("[1].name");
  });

  it("a container task while container mode is off is 400 with a clear message", async () => {
    const reply = await raw(executor, "POST", "/tasks", JSON.stringify({ name: "c", spec: { container: { image: "busybox" } } }));
    expect(reply.status).toBe(400);
    expect(String(reply.json?.message)).toContain("--enable-container-mode");
  });

  it("bad query parameters are 400", async () => {
    await raw(executor, "POST", "/tasks", valid("q"));
    expect((await raw(executor, "GET", "/tasks/q?waitFor=running")).status).toBe(400);
    expect((await raw(executor, "GET", "/tasks/q/logs?tailLines=-3")).status).toBe(400);
    expect((await raw(executor, "GET", "/events?since=abc")).status).toBe(400);
  });
});
