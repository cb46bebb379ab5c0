import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "@org/task-core";
import { TaskStore } from "@org/store";
import { startExecutor, tempDir, waitFor, type ExecutorProcess } from "@org/testkit";
import { apiDocFiles } from "../../src/api-doc-files.js";
import { parseConfig } from "../../src/config.js";
import { createApp } from "../../src/http/app.js";
import { ExecutorMetrics } from "../../src/http/metrics.js";
import { openApiDocument } from "../../src/http/openapi.js";
import { EventHub } from "../../src/manager/event-hub.js";
import { TaskManager } from "../../src/manager/task-manager.js";
import { buildRuntimes } from "../../src/runtimes.js";
import { raw, waitTerminated } from "./helpers.js";
import { validateReply, validateRequest } from "./openapi-validator.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
/** The curl examples and JSON blocks of the executor's user guide, verbatim (the guide itself is not in the repository). */
const GUIDE = fileURLToPath(new URL("../fixtures/guide-examples.txt", import.meta.url));

/** Express `/tasks/:name` → OpenAPI `/tasks/{name}`. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z]+)/g, "{$1}");

/** The text of each `curl` command: up to a newline outside quotes that neither a `\\` nor a dangling `-d` continues. */
function curlCommands(text: string): string[] {
  const commands: string[] = [];
  for (const match of text.matchAll(/\bcurl\s/g)) {
    let quoted = false;
    let end = match.index;
    for (; end < text.length; end++) {
      const char = text[end];
      if (char === "'") quoted = !quoted;
      if (char === "\n" && !quoted && !/(\\|-d)\s*$/.test(text.slice(match.index, end))) break;
    }
    commands.push(text.slice(match.index, end));
  }
  return commands;
}

/** Method, API path and (for `-d`) parsed body of each `curl ... http://localhost:5758/<path>` of a text. */
function curlExamples(text: string): Array<{ method: string; path: string; body?: unknown }> {
  return curlCommands(text).flatMap((command) => {
    const url = /localhost:5758(\/[^\s'?]*)/.exec(command);
    if (!url) return []; // a shell line that merely mentions curl
    const data = /-d\s*\\?\s*'([^']*)'/.exec(command);
    const method = /-X\s+(\w+)/.exec(command)?.[1] ?? (data ? "POST" : "GET");
    return [{ method, path: url[1]!, ...(data ? { body: JSON.parse(data[1]!) as unknown } : {}) }];
  });
}

/** The OpenAPI path template (`/tasks/{name}`) a concrete path matches, if any. */
function documentedPath(path: string): string | undefined {
  return Object.keys(openApiDocument().paths ?? {}).find((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path));
}

/** The JSON value at the start of `text` (up to its closing bracket), or undefined when it does not parse. */
function leadingJson(text: string): unknown {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (char === "\\") index++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if ((char === "}" || char === "]") && --depth === 0) {
      try {
        return JSON.parse(text.slice(0, index + 1));
      } catch {
        return undefined; // the status overview with `{ ... }` and `// or` comments is an illustration, not JSON
      }
    }
  }
  return undefined;
}

/** The guide's JSON blocks (a line `json`, then the value) that parse. */
function jsonBlocks(text: string): unknown[] {
  return text
    .split(/^\s*json\s*$/m)
    .slice(1)
    .map((block) => leadingJson(block.trim()))
    .filter((block) => block !== undefined);
}

describe("the OpenAPI document", () => {
  it("docs/openapi.json and docs/api.md are current (regenerate with `pnpm --filter @org/executor run openapi`)", async () => {
    for (const file of apiDocFiles()) expect(await readFile(`${ROOT}${file.path}`, "utf8"), file.path).toBe(file.content);
  });

  it("has every route the app registers, with its method, and no other", async () => {
    const dataDir = await tempDir("openapi-routes-");
    const config = parseConfig([`--data-dir=${dataDir}`]);
    const hub = await EventHub.open(dataDir, { logger: silentLogger });
    const runtimes = await buildRuntimes(config, silentLogger);
    const manager = new TaskManager({ store: await TaskStore.open(dataDir), hub, runtimes, logger: silentLogger, maxConcurrentTasks: 1, stopGraceMs: 1000 });
    const app = createApp({
      manager,
      hub,
      logger: silentLogger,
      maxRequestBytes: 1024,
      tokens: undefined,
      metrics: new ExecutorMetrics(),
      ready: () => Promise.resolve({ status: "ready", checks: [] }),
      health: () => ({ status: "healthy", auth: "disabled", modes: ["process"], sidecar: false, version: "0.0.0" }),
    });
    const registered = (app.router.stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>).flatMap((layer) =>
      layer.route ? Object.keys(layer.route.methods).map((method) => `${method.toUpperCase()} ${openApiPath(layer.route!.path)}`) : [],
    );
    const documented = Object.entries(openApiDocument().paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item ?? {}).filter((key) => ["get", "post", "put", "delete", "patch"].includes(key)).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(registered.length).toBeGreaterThan(10);
    expect([...registered].sort()).toEqual([...documented].sort());
    await runtimes.close();
  });

  it("the README's and the guide's example requests and replies validate against it", async () => {
    const readme = await readFile(`${ROOT}README.md`, "utf8");
    const guide = await readFile(GUIDE, "utf8");
    const withBody = (examples: ReturnType<typeof curlExamples>) => examples.filter((example) => example.body !== undefined).map((example) => `${example.method} ${example.path}`);
    // The guide's are fixed: create, setTasks and the sidecar example; the README has those and may have more.
    expect(withBody(curlExamples(guide))).toEqual(["POST /tasks", "POST /setTasks", "POST /tasks"]);
    expect(withBody(curlExamples(readme))).toEqual(expect.arrayContaining(["POST /tasks", "POST /setTasks"]));
    const curls = [...curlExamples(readme), ...curlExamples(guide)];
    for (const example of curls) {
      const template = documentedPath(example.path);
      expect(template, `${example.method} ${example.path}`).toBeDefined();
      expect(openApiDocument().paths?.[template!]).toHaveProperty(example.method.toLowerCase());
      if (example.body !== undefined) validateRequest(example.method, template!, example.body);
    }
    expect(curls.length).toBeGreaterThan(15);

    const blocks = jsonBlocks(guide).filter((block) => (Array.isArray(block) ? block[0] : block) && JSON.stringify(block).includes('"name"'));
    let requests = 0;
    let replies = 0;
    for (const block of blocks) {
      // A reply carries a status; a list is /setTasks's body or a listing's reply, the rest one task.
      const list = Array.isArray(block);
      if (JSON.stringify(block).includes('"status"')) {
        validateReply("GET", list ? "/getTasks" : "/tasks/{name}", 200, block);
        replies++;
      } else {
        validateRequest("POST", list ? "/setTasks" : "/tasks", block);
        requests++;
      }
    }
    // Requests: create, setTasks, the process and the container example; replies: create, get, setTasks, getTasks.
    expect({ requests, replies }).toEqual({ requests: 4, replies: 4 });
  });
});

describe("the executor's real replies validate against the document", () => {
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--stop-grace-period=1s"] });
  });
  afterAll(async () => {
    await executor.kill();
  });

  const send = async (method: string, path: string, documented: string, status: number, body?: unknown) => {
    const reply = await raw(executor, method, path, body === undefined ? undefined : JSON.stringify(body));
    expect(reply.status, reply.text).toBe(status);
    validateReply(method, documented, status, reply.json);
    return reply.json;
  };

  it("GET /openapi.json serves the document", async () => {
    expect(await send("GET", "/openapi.json", "/openapi.json", 200)).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it("health, ready, create, get, long-poll, list, stop, setTasks", async () => {
    await send("GET", "/health", "/health", 200);
    await send("GET", "/ready", "/ready", 200);
    await send("POST", "/tasks", "/tasks", 201, { name: "valid-a", labels: { app: "x" }, spec: { process: { command: ["sh", "-c", "echo a"], env: [{ name: "A", value: "1" }] } } });
    await send("POST", "/tasks", "/tasks", 201, { name: "valid-legacy", process: { command: ["sleep", "30"], timeoutSeconds: 60 } });
    await waitTerminated(executor, "valid-a");
    await send("GET", "/tasks/valid-a", "/tasks/{name}", 200);
    await send("GET", "/tasks/valid-a?waitFor=terminated&timeoutSeconds=5", "/tasks/{name}", 200);
    await waitFor(async () => "running" in (await executor.client.getTask("valid-legacy")).status.state);
    await send("GET", "/getTasks", "/getTasks", 200);
    await send("POST", "/tasks/valid-legacy/stop", "/tasks/{name}/stop", 200);
    await send("POST", "/setTasks", "/setTasks", 200, [{ name: "valid-b", spec: { process: { command: ["true"] } } }]);
    await send("GET", "/getTasks", "/getTasks", 200);
  });

  it("errors 400 (bad JSON, bad field), 404 and 409", async () => {
    const badJson = await raw(executor, "POST", "/tasks", "{not json");
    expect(badJson.status).toBe(400);
    validateReply("POST", "/tasks", 400, badJson.json);
    const badField = await send("POST", "/tasks", "/tasks", 400, { name: "x", spec: { process: { command: [] } } });
    expect(badField?.details).toEqual([expect.objectContaining({ path: "spec.process.command" })]);
    await send("POST", "/setTasks", "/setTasks", 400, [{ name: "x" }]);
    await send("GET", "/tasks/missing", "/tasks/{name}", 404);
    await send("POST", "/tasks/missing/stop", "/tasks/{name}/stop", 404);
    await send("POST", "/tasks", "/tasks", 201, { name: "twice", spec: { process: { command: ["true"] } } });
    await send("POST", "/tasks", "/tasks", 409, { name: "twice", spec: { process: { command: ["true"] } } });
  });
});
