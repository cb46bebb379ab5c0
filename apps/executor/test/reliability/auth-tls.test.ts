import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXECUTOR_VERSION } from "../../src/version.js";
import { ExecutorClient, ExecutorClientError } from "@org/task-core";
import { startExecutor, tempDir, waitFor, type ExecutorProcess } from "@org/testkit";
import { isErrorBody, rawRequest, run, shTask, terminatedOf } from "./support.js";

/**
 * Bearer tokens from --auth-token-file (several, reloaded on change) on every endpoint but /health; a loud
 * warning without them beyond loopback; HTTPS with --tls-cert-file/--tls-key-file through the typed client.
 */
const TOKEN_A = "token-alpha-3f9c1e7b5d";
const TOKEN_B = "token-beta-8a2d4c6e0f";
const executors: ExecutorProcess[] = [];
let root = "";

beforeAll(async () => {
  root = await tempDir("auth-tls-");
});
afterAll(async () => {
  for (const executor of executors) await executor.kill();
  if (root) await rm(root, { recursive: true, force: true });
});

/** Every endpoint with a request that succeeds when authorised (streams: status and headers only). */
const ENDPOINTS: Array<{ method: string; path: string; ok: number; body?: unknown; stream?: boolean }> = [
  { method: "POST", path: "/tasks", ok: 201, body: shTask("authorised", "echo hi") },
  { method: "GET", path: "/tasks/authorised", ok: 200 },
  { method: "GET", path: "/tasks/authorised/logs", ok: 200 },
  { method: "POST", path: "/tasks/authorised/stop", ok: 200 },
  { method: "GET", path: "/getTasks", ok: 200 },
  { method: "GET", path: "/metrics", ok: 200 },
  { method: "GET", path: "/events", ok: 200, stream: true },
  { method: "POST", path: "/setTasks", ok: 200, body: [shTask("synced", "exit 0")] },
  { method: "DELETE", path: "/tasks/synced", ok: 204 },
];

function send(executor: ExecutorProcess, method: string, path: string, authorization?: string, body?: unknown, stream = false) {
  const headers: Record<string, string> = { "content-type": "application/json", ...(authorization ? { authorization } : {}) };
  return rawRequest(executor.url, { method, path, headers, agent: false, headersOnly: stream, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
}

describe("auth: --auth-token-file", () => {
  let executor: ExecutorProcess;
  let tokenFile = "";
  beforeAll(async () => {
    tokenFile = join(root, "tokens");
    await writeFile(tokenFile, `# executor tokens\n${TOKEN_A}\n\n  ${TOKEN_B}  \n`);
    executor = await startExecutor({ dataDir: join(root, "auth-data"), args: [`--auth-token-file=${tokenFile}`] });
    executors.push(executor);
  });

  it("/health needs no token and says auth is enabled", async () => {
    const reply = await send(executor, "GET", "/health");
    expect(reply.status).toBe(200);
    expect(reply.json).toMatchObject({ status: "healthy", auth: "enabled" });
    expect(reply.json).not.toHaveProperty("warning");
  });

  it("every other endpoint answers 401 JSON without a token, with a wrong one or another scheme", async () => {
    for (const { method, path, body } of ENDPOINTS) {
      for (const authorization of [undefined, `Bearer ${TOKEN_A}x`, "Bearer ", `Basic ${Buffer.from(`user:${TOKEN_A}`).toString("base64")}`, TOKEN_A]) {
        const reply = await send(executor, method, path, authorization, body);
        expect(reply.status, `${method} ${path} with ${authorization ?? "no header"}`).toBe(401);
        expect(isErrorBody(reply.json)).toBe(true);
        expect(reply.json).toMatchObject({ code: "Unauthorized" });
      }
    }
    expect((await send(executor, "GET", "/no-such-endpoint")).status).toBe(401);
  });

  it("both tokens of the file are accepted on every endpoint", async () => {
    for (const [i, { method, path, ok, body, stream }] of ENDPOINTS.entries()) {
      const token = i % 2 === 0 ? TOKEN_A : TOKEN_B;
      const reply = await send(executor, method, path, `Bearer ${token}`, body, stream);
      expect(reply.status, `${method} ${path}`).toBe(ok);
      if (path === "/tasks") await waitFor(async () => terminatedOf(await new ExecutorClient({ baseUrl: executor.url, token }).getTask("authorised")), 20_000);
    }
    for (const token of [TOKEN_A, TOKEN_B]) expect((await send(executor, "GET", "/getTasks", `bearer ${token}`)).status).toBe(200);
  });

  it("X-Executor-Token carries the same tokens (the pod proxy drops Authorization): accepted, a wrong one 401, neither 401", async () => {
    const withHeader = (method: string, path: string, headers: Record<string, string>, stream = false) =>
      rawRequest(executor.url, { method, path, headers, agent: false, headersOnly: stream });
    // A write with the header works as with the bearer token.
    const created = await rawRequest(executor.url, {
      method: "POST",
      path: "/tasks",
      headers: { "content-type": "application/json", "x-executor-token": TOKEN_A },
      agent: false,
      body: JSON.stringify(shTask("by-header", "echo hi")),
    });
    expect(created.status).toBe(201);
    await waitFor(async () => terminatedOf(await new ExecutorClient({ baseUrl: executor.url, token: TOKEN_A }).getTask("by-header")), 20_000);
    const reads = [
      { path: "/getTasks", stream: false },
      { path: "/tasks/by-header", stream: false },
      { path: "/tasks/by-header/logs", stream: false },
      { path: "/metrics", stream: false },
      { path: "/events", stream: true },
    ];
    for (const [i, { path, stream }] of reads.entries()) {
      const token = i % 2 === 0 ? TOKEN_A : TOKEN_B;
      expect((await withHeader("GET", path, { "x-executor-token": token }, stream)).status, `GET ${path}`).toBe(200);
    }
    const logs = await withHeader("GET", "/tasks/by-header/logs", { "X-Executor-Token": ` ${TOKEN_B} ` });
    expect(logs.status).toBe(200);
    expect(logs.body.toString("utf8")).toBe("hi\n");
    const refused: Record<string, string>[] = [{ "x-executor-token": `${TOKEN_A}x` }, { "x-executor-token": "" }, { "x-executor-token": TOKEN_A.slice(0, -1) }, {}];
    for (const headers of refused) {
      const reply = await withHeader("GET", "/tasks/by-header/logs", headers);
      expect(reply.status, JSON.stringify(headers)).toBe(401);
      expect(isErrorBody(reply.json)).toBe(true);
      expect(reply.json).toMatchObject({ code: "Unauthorized" });
    }
    expect((await withHeader("GET", "/getTasks", { "x-executor-token": "nope" })).json).toMatchObject({ message: "invalid X-Executor-Token" });
    expect((await withHeader("GET", "/getTasks", {})).json).toMatchObject({ message: expect.stringContaining("X-Executor-Token") });
    // Either credential that matches is enough: a wrong bearer with a right header (or the reverse) passes.
    expect((await withHeader("GET", "/getTasks", { authorization: "Bearer nope", "x-executor-token": TOKEN_A })).status).toBe(200);
    expect((await withHeader("GET", "/getTasks", { authorization: `Bearer ${TOKEN_B}`, "x-executor-token": "nope" })).status).toBe(200);
    expect((await withHeader("GET", "/getTasks", { authorization: "Bearer nope", "x-executor-token": "nope" })).status).toBe(401);
  });

  it("reloads the file when it changes: the old token is rejected and the new one accepted", { timeout: 60_000 }, async () => {
    const TOKEN_C = "token-gamma-5e1b9d3a7c";
    await writeFile(tokenFile, `${TOKEN_C}\n`);
    await waitFor(async () => (await send(executor, "GET", "/getTasks", `Bearer ${TOKEN_C}`)).status === 200, 15_000, 200);
    expect((await send(executor, "GET", "/getTasks", `Bearer ${TOKEN_A}`)).status).toBe(401);
    expect((await send(executor, "GET", "/getTasks", `Bearer ${TOKEN_B}`)).status).toBe(401);

    // Replaced the way deployment tools do it: a new file renamed over the old one.
    const TOKEN_D = "token-delta-0c4f8b2e6a";
    await writeFile(`${tokenFile}.new`, `${TOKEN_D}\n`);
    await rename(`${tokenFile}.new`, tokenFile);
    await waitFor(async () => (await send(executor, "GET", "/getTasks", `Bearer ${TOKEN_D}`)).status === 200, 15_000, 200);
    expect((await send(executor, "GET", "/getTasks", `Bearer ${TOKEN_C}`)).status).toBe(401);

    // A file emptied by mistake keeps the previous tokens rather than locking everyone out.
    await writeFile(tokenFile, "# nothing\n");
    await waitFor(() => executor.output.some((line) => line.includes("holds no token")), 15_000, 200);
    expect((await send(executor, "GET", "/getTasks", `Bearer ${TOKEN_D}`)).status).toBe(200);
  });
});

describe("auth: no token file", () => {
  it("listening beyond loopback without a token file logs a SECURITY warning and /health says so", async () => {
    const executor = await startExecutor({ dataDir: join(root, "open-data"), args: ["--listen-addr=0.0.0.0:0"] });
    executors.push(executor);
    const port = new URL(executor.url).port;
    expect(executor.output.filter((line) => line.includes("SECURITY"))).toHaveLength(1);
    const reply = await rawRequest(`http://127.0.0.1:${port}`, { path: "/health", agent: false });
    expect(reply.json).toMatchObject({ status: "healthy", auth: "disabled", warning: expect.any(String) });
  });

  it("on loopback without a token file: no warning", async () => {
    const executor = await startExecutor({ dataDir: join(root, "loopback-data") });
    executors.push(executor);
    expect(executor.output.filter((line) => line.includes("SECURITY"))).toEqual([]);
    const reply = await send(executor, "GET", "/health");
    expect(reply.json).toEqual({ status: "healthy", auth: "disabled", modes: ["process"], sidecar: false, version: EXECUTOR_VERSION });
  });
});

describe("TLS: --tls-cert-file and --tls-key-file", () => {
  let executor: ExecutorProcess;
  let ca = "";
  beforeAll(async () => {
    if ((await run("openssl", ["version"])).code !== 0) {
      const installed = await run("sh", ["-c", "apt-get install -y openssl || (apt-get update && apt-get install -y openssl)"]);
      expect(installed.code, `openssl is missing and cannot be installed: ${installed.output.slice(-500)}`).toBe(0);
    }
    const cert = join(root, "cert.pem");
    const key = join(root, "key.pem");
    const made = await run("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
    ]);
    expect(made.code, made.output).toBe(0);
    ca = await readFile(cert, "utf8");
    const tokenFile = join(root, "tls-tokens");
    await writeFile(tokenFile, `${TOKEN_A}\n`);
    executor = await startExecutor({
      dataDir: join(root, "tls-data"),
      args: [`--tls-cert-file=${cert}`, `--tls-key-file=${key}`, `--auth-token-file=${tokenFile}`],
    });
    executors.push(executor);
  });

  it("serves HTTPS: the typed client with the CA and a token creates and reads a task", async () => {
    expect(executor.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new ExecutorClient({ baseUrl: executor.url, ca, token: TOKEN_A });
    await client.createTask(shTask("over-tls", "echo secure; exit 6"));
    expect(terminatedOf(await client.waitForTerminated("over-tls", 30))).toMatchObject({ exitCode: 6, reason: "Failed" });
    expect((await client.getTask("over-tls")).name).toBe("over-tls");
    expect((await client.logs("over-tls")).toString()).toBe("secure\n");
    const wrongToken = await new ExecutorClient({ baseUrl: executor.url, ca, token: TOKEN_B }).getTask("over-tls").catch((error: unknown) => error);
    expect(wrongToken).toBeInstanceOf(ExecutorClientError);
    expect(wrongToken).toMatchObject({ kind: "api", status: 401 });
  });

  it("a client that does not trust the certificate fails with a connection error", async () => {
    const error = await new ExecutorClient({ baseUrl: executor.url, token: TOKEN_A, retries: 1 }).getTask("over-tls").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ExecutorClientError);
    expect(error).toMatchObject({ kind: "connection" });
    expect((error as Error).message).toMatch(/certificate/i);
  });

  it("plain HTTP to the TLS port gets no API reply", async () => {
    const port = new URL(executor.url).port;
    const reply = await rawRequest(`http://127.0.0.1:${port}`, { path: "/getTasks", agent: false, timeoutMs: 5000 }).catch((error: Error) => error);
    if (!(reply instanceof Error)) expect(reply.status).toBeGreaterThanOrEqual(400);
  });
});
