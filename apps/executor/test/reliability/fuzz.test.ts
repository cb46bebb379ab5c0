import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isValidTaskName } from "@org/task-core";
import { startExecutor, tempDir, type ExecutorProcess } from "@org/testkit";
import { bodyArb, headerText, headersArb, MAX_REQUEST_BYTES, methodArb, pathArb, queryArb, segmentArb, type FuzzBody } from "./fuzz-inputs.js";
import { isErrorBody, listTree, rawRequest, seedFrom, shTask, type RawReply } from "./support.js";

/**
 * Hostile input at every endpoint (fast-check): never a 5xx, every error is JSON with string `code` and
 * `message`, the executor stays up, and nothing is created outside the data dir. Seeded: FUZZ_SEED repeats a run,
 * FUZZ_RUNS sets the runs per endpoint.
 */
const SEED = seedFrom("FUZZ_SEED");
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const DATA_ENTRIES = new Set(["events.lease", "tasks.snapshot", ".quarantine", ".trash"]);
const isTaskName = (entry: string): boolean => entry.includes("~") || isValidTaskName(entry); // long names live in derived directories
const KNOWN_OUTPUT = "hello\noops\n";
/** Log query parameters that may legitimately leave part of the output out. */
const LOG_FILTERS = ["stream", "tailLines", "limitBytes", "sinceSeconds", "sinceTime"];

describe(`fuzz: hostile input at every endpoint (seed ${SEED}, ${RUNS} runs each)`, () => {
  let executor: ExecutorProcess;
  let root = "";
  let outside: string[] = [];
  let requests = 0;
  console.log(`fuzz: seed ${SEED}, ${RUNS} runs per endpoint (repeat with FUZZ_SEED=${SEED})`);

  beforeAll(async () => {
    root = await tempDir("fuzz-");
    executor = await startExecutor({ dataDir: join(root, "data"), args: [`--max-request-bytes=${MAX_REQUEST_BYTES}`, "--retain-per-group=100"] });
    await executor.client.createTask(shTask("known", "echo hello; echo oops >&2; exit 3"));
    await executor.client.waitForTerminated("known", 30);
    outside = await listTree(root, ["data"]);
  });

  afterAll(async () => {
    console.log(`fuzz: ${requests} requests sent`);
    await executor?.kill();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** One request; the reply must be a non-5xx, with a JSON error body for 4xx, and the executor alive. */
  async function check(method: string, path: string, body?: FuzzBody, extraHeaders: Record<string, string> = {}, stream = false): Promise<RawReply> {
    requests++;
    const headers = { ...(body?.headers ?? {}), ...extraHeaders };
    const reply = await rawRequest(executor.url, {
      method,
      path,
      headers,
      ...(body?.body ? { body: body.body } : {}),
      // A fresh connection each time: a reused keep-alive socket the server just closed is a client-side race.
      agent: false,
      headersOnly: stream,
      timeoutMs: 15_000,
    }).catch((error: Error) => {
      throw new Error(`${method} ${path.slice(0, 200)} (${body?.label ?? "no body"}): ${error.message}`);
    });
    const label = `${method} ${path.slice(0, 200)} (${body?.label ?? "no body"}) → ${reply.status} ${reply.body.toString("utf8").slice(0, 300)}`;
    expect(reply.status, label).toBeGreaterThanOrEqual(200);
    expect(reply.status, label).toBeLessThan(500);
    if (reply.status >= 400 && method !== "HEAD") expect(isErrorBody(reply.json), `error body is not {code, message}: ${label}`).toBe(true);
    if (stream && reply.status === 200) expect(reply.headers["content-type"], label).toMatch(/^text\/event-stream/);
    expect(executor.child.exitCode === null && executor.child.signalCode === null, `executor died after ${label}`).toBe(true);
    return reply;
  }

  /** Runs a property, then checks that nothing appeared next to the data dir and the data dir holds only tasks. */
  async function fuzz<T>(arbitrary: fc.Arbitrary<T>, offset: number, body: (input: T) => Promise<unknown>): Promise<void> {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        await body(input);
      }),
      { seed: SEED + offset, numRuns: RUNS },
    );
    expect(await listTree(root, ["data"]), "files outside the data dir").toEqual(outside);
    const strange = (await readdir(join(root, "data"))).filter((entry) => !DATA_ENTRIES.has(entry) && !/^\.journal\.\d+$/.test(entry) && !isTaskName(entry) && !entry.includes(".tmp-"));
    expect(strange, "data dir entries that are not tasks").toEqual([]);
    expect((await executor.client.health()).status).toBe("healthy");
  }

  it("GET /health", { timeout: 120_000 }, () => fuzz(fc.tuple(queryArb, bodyArb), 1, ([query, body]) => check("GET", `/health${query}`, body)));

  it("GET /getTasks", { timeout: 120_000 }, () => fuzz(fc.tuple(queryArb, bodyArb), 2, ([query, body]) => check("GET", `/getTasks${query}`, body)));

  it("GET /metrics", { timeout: 120_000 }, () => fuzz(fc.tuple(queryArb, headersArb), 11, ([query, headers]) => check("GET", `/metrics${query}`, undefined, headers)));

  it("GET /events with random since and Last-Event-ID", { timeout: 120_000 }, () =>
    fuzz(fc.tuple(queryArb, fc.oneof(fc.nat().map(String), fc.constantFrom("-1", "1e309", "99999999999999999999", "", "0x1"), headerText), headerText), 3, ([query, since, lastId]) =>
      check("GET", `/events${query}${query ? "&" : "?"}since=${encodeURIComponent(since)}`, undefined, { "last-event-id": lastId }, true),
    ));

  it("GET /tasks/{name} (and long-poll)", { timeout: 120_000 }, () =>
    fuzz(fc.tuple(fc.oneof(segmentArb, fc.constant("known")), queryArb, headersArb), 4, ([segment, query, headers]) => check("GET", `/tasks/${segment}${query}`, undefined, headers)));

  it("GET /tasks/{name}/logs with random query params", { timeout: 120_000 }, () =>
    fuzz(fc.tuple(fc.oneof(fc.constant("known"), segmentArb), queryArb), 5, async ([segment, query]) => {
      const reply = await check("GET", `/tasks/${segment}/logs${query}`);
      if (reply.status !== 200 || segment !== "known") return;
      // Whatever the filters, the text is a piece of the task's output (timestamps, when asked for, stripped)...
      const text = reply.body.toString().replace(/^\S+ /gm, "");
      expect(KNOWN_OUTPUT, `logs${query}`).toContain(text);
      // ...and without a filter that may leave something out, it is the whole output (an empty body is not).
      const params = new URLSearchParams(query.replace(/^\?/, ""));
      if (!LOG_FILTERS.some((filter) => params.has(filter))) expect(text, `logs${query}`).toBe(KNOWN_OUTPUT);
    }));

  it("GET /tasks/{name}/logs without filters, and with each filter alone, answers exactly the output asked for", async () => {
    const logs = async (query: string) => (await check("GET", `/tasks/known/logs${query}`)).body.toString();
    expect(await logs("")).toBe(KNOWN_OUTPUT);
    expect(await logs("?stream=stdout")).toBe("hello\n");
    expect(await logs("?stream=stderr")).toBe("oops\n");
    expect(await logs("?tailLines=1")).toBe("oops\n");
    expect(await logs("?limitBytes=3")).toBe("hel");
  });

  it("POST /tasks/{name}/stop", { timeout: 120_000 }, () =>
    fuzz(fc.tuple(fc.oneof(segmentArb, fc.constant("known")), queryArb, bodyArb), 6, ([segment, query, body]) => check("POST", `/tasks/${segment}/stop${query}`, body)));

  it("POST /tasks", { timeout: 180_000 }, () =>
    fuzz(fc.tuple(bodyArb, headersArb, queryArb), 7, async ([body, headers, query]) => {
      const reply = await check("POST", `/tasks${query}`, body, headers);
      if (reply.status === 201) expect((reply.json as { spec: { process: { command: string[] } } }).spec.process.command).toEqual(["true"]);
    }));

  it("DELETE /tasks/{name}", { timeout: 120_000 }, () =>
    fuzz(fc.tuple(segmentArb, queryArb, bodyArb), 8, ([segment, query, body]) => check("DELETE", `/tasks/${segment}${query}`, body)));

  it("any method on any path", { timeout: 120_000 }, () =>
    fuzz(
      // HEAD /events gets no reply at all (see the regression below); left out here so that it fails once, fast.
      fc.tuple(methodArb, pathArb, queryArb, fc.option(bodyArb, { nil: undefined })).filter(([method, path]) => !(method === "HEAD" && path === "/events")),
      9,
      ([method, path, query, body]) =>
      check(method, `${path}${query}`, body, {}, path.startsWith("/events") && (method === "GET" || method === "HEAD")),
    ));

  it("POST /setTasks", { timeout: 180_000 }, () =>
    fuzz(fc.tuple(bodyArb, headersArb), 10, async ([body, headers]) => {
      const reply = await check("POST", "/setTasks", body, headers);
      if (reply.status === 200) expect(Array.isArray(reply.json)).toBe(true);
    }));

  describe("regressions", () => {
    it.each([
      ["10000 nested arrays", "POST", "/tasks", `${"[".repeat(10_000)}${"]".repeat(10_000)}`],
      ["10000 nested objects", "POST", "/setTasks", `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`],
      ["a __proto__ key in a task", "POST", "/tasks", '{"name":"proto","__proto__":{"spec":{"process":{"command":["true"]}}}}'],
      ["a lone surrogate in a name", "POST", "/tasks", '{"name":"\\ud800","spec":{"process":{"command":["true"]}}}'],
      ["NUL in a path name", "GET", "/tasks/a%00b", undefined],
      ["an overlong UTF-8 dot dot", "GET", "/tasks/%c0%ae%c0%ae/logs", undefined],
      ["an undecodable escape", "DELETE", "/tasks/%zz", undefined],
      ["an encoded slash", "POST", "/tasks/..%2f..%2fetc/stop", undefined],
      ["a 10000-character name", "GET", `/tasks/${"a".repeat(10_000)}`, undefined],
      ["a timeout beyond any timer", "GET", "/tasks/known?waitFor=terminated&timeoutSeconds=999999999999", undefined],
      ["a huge since", "GET", "/events?since=999999999999", undefined],
      ["repeated query keys", "GET", "/tasks/known/logs?tailLines=1&tailLines=2&stream=all&stream=stdout", undefined],
      ["a bracketed query key", "GET", "/tasks/known/logs?follow[x]=1&since[]=2", undefined],
    ])("%s", async (_label, method, path, body) => {
      const reply = await check(method, path, body === undefined ? undefined : { label: "regression", body: Buffer.from(body), headers: { "content-type": "application/json" } }, {}, path.startsWith("/events"));
      expect(reply.status).toBeLessThan(500);
    });

    it("HEAD /events is answered instead of left without a reply", async () => {
      const reply = await rawRequest(executor.url, { method: "HEAD", path: "/events", agent: false, timeoutMs: 5000 }).catch((error: Error) => error.message);
      expect(typeof reply === "string" ? reply : reply.status).toBe(200);
    });

    it("prototype pollution attempts leave the executor's objects clean", async () => {
      // Each attempt tries to put `labels` (copied into every task the executor reports) and `spec` (which a task
      // without one would then inherit) onto Object.prototype inside the executor: through JSON bodies, bracketed
      // query keys and label or env names.
      const polluting = JSON.stringify({ labels: { polluted: "yes" }, spec: { process: { command: ["true"] } } });
      const attempts: Array<[string, string, string | undefined]> = [
        ["POST", "/tasks", `{"name":"pollute-1","spec":{"process":{"command":["true"]}},"__proto__":${polluting}}`],
        ["POST", "/tasks", `{"name":"pollute-2","spec":{"process":{"command":["true"]}},"constructor":{"prototype":${polluting}}}`],
        ["POST", "/tasks", `{"name":"pollute-3","labels":{"__proto__":"x"},"spec":{"process":{"command":["true"],"env":[{"name":"__proto__","value":"x"}]}}}`],
        ["POST", "/setTasks", `[{"name":"pollute-4","spec":{"process":{"command":["true"]}},"__proto__":${polluting}}]`],
        ["POST", "/tasks?__proto__[labels][polluted]=yes&constructor[prototype][labels][polluted]=yes", `{"name":"pollute-5","spec":{"process":{"command":["true"]}}}`],
        ["GET", "/tasks/known/logs?__proto__[labels][polluted]=yes&__proto__[spec][process][command][]=true", undefined],
        ["GET", "/getTasks?constructor[prototype][labels][polluted]=yes", undefined],
      ];
      for (const [method, path, body] of attempts) {
        await check(method, path, body === undefined ? undefined : { label: "pollution", body: Buffer.from(body), headers: { "content-type": "application/json" } });
      }
      // A fresh task has no labels it was not given, and a task without a spec is still refused.
      const fresh = await rawRequest(executor.url, { method: "POST", path: "/tasks", body: JSON.stringify({ name: "after-pollution", spec: { process: { command: ["true"] } } }), headers: { "content-type": "application/json" }, agent: false });
      expect(fresh.status).toBe(201);
      const read = await rawRequest(executor.url, { path: "/tasks/after-pollution", agent: false });
      expect(read.body.toString()).not.toContain("polluted");
      expect((read.json as { labels?: Record<string, string> }).labels ?? {}).toEqual({});
      const list = await rawRequest(executor.url, { path: "/getTasks", agent: false });
      expect(list.body.toString()).not.toContain("polluted");
      const noSpec = await rawRequest(executor.url, { method: "POST", path: "/tasks", body: JSON.stringify({ name: "no-spec" }), headers: { "content-type": "application/json" }, agent: false });
      expect(noSpec.status).toBe(400);
    });

    it("a fresh task can still be created and run after all of this", async () => {
      await executor.client.createTask(shTask("after-fuzz", "echo fine"));
      expect((await executor.client.waitForTerminated("after-fuzz", 30)).status.state).toMatchObject({ terminated: { exitCode: 0 } });
    });
  });
});
