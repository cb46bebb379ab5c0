import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realEnvironmentRequired, startExecutor, tempDir, waitFor, type ExecutorProcess } from "@org/testkit";
import { raw } from "./helpers.js";
import { validateReply } from "./openapi-validator.js";

const exec = promisify(execFile);

async function mount(...args: string[]): Promise<string | undefined> {
  return exec("mount", args).then(
    () => undefined,
    (error: Error & { stderr?: string }) => (error.stderr || error.message).trim(),
  );
}

describe("GET /ready", () => {
  it("is 200 with each check on a normal executor, and matches the document", async () => {
    const executor = await startExecutor();
    try {
      const reply = await raw(executor, "GET", "/ready");
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ status: "ready", checks: [{ check: "dataDir", ok: true, durationMs: expect.any(Number) }] });
      validateReply("GET", "/ready", 200, reply.json);
    } finally {
      await executor.kill();
    }
  });

  it("needs no token when auth is on, like /health and /openapi.json", async () => {
    const root = await tempDir("ready-auth-");
    await writeFile(join(root, "tokens"), "ready-test-token-1\n");
    const executor = await startExecutor({ dataDir: join(root, "data"), args: [`--auth-token-file=${join(root, "tokens")}`] });
    try {
      expect((await raw(executor, "GET", "/getTasks")).status).toBe(401);
      expect((await raw(executor, "GET", "/ready")).status).toBe(200);
      expect((await raw(executor, "GET", "/openapi.json")).status).toBe(200);
      expect((await raw(executor, "GET", "/getTasks", undefined, { authorization: "Bearer ready-test-token-1" })).status).toBe(200);
    } finally {
      await executor.kill();
    }
  });
});

/**
 * The data dir on its own tmpfs, remounted read-only while the executor runs: `chmod` would not stop root, and
 * this is what a failing disk that the kernel turned read-only looks like.
 */
describe("GET /ready when the data dir stops taking writes", () => {
  let dataDir = "";
  let mounted = false;
  let executor: ExecutorProcess | undefined;
  beforeAll(async () => {
    dataDir = join(await tempDir("ready-ro-"), "data");
    await mkdir(dataDir);
    const failure = await mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", dataDir);
    if (failure) {
      if (realEnvironmentRequired()) throw new Error(`cannot mount a tmpfs for the data dir: ${failure}`);
      console.warn(`\n*** ready: read-only data dir case SKIPPED: cannot mount a tmpfs (${failure}) ***\n`);
      return;
    }
    mounted = true;
    executor = await startExecutor({ dataDir });
  });
  afterAll(async () => {
    await executor?.kill();
    if (mounted) await exec("umount", [dataDir]).catch(() => exec("umount", ["-l", dataDir]));
  });

  it("answers 503 naming the data dir, writes fail with their request id in the log, and it is ready again once writable", async (context) => {
    if (!executor) return context.skip();
    expect((await raw(executor, "GET", "/ready")).status).toBe(200);
    expect(await mount("-o", "remount,ro", dataDir)).toBeUndefined();

    // Replies are cached for about a second.
    const unready = await waitFor(async () => {
      const reply = await raw(executor!, "GET", "/ready");
      return reply.status === 503 ? reply : undefined;
    }, 5000);
    expect(unready.json).toMatchObject({ status: "unready", reasons: [{ check: "dataDir", message: expect.stringMatching(/data dir .*read-only file system/i) }] });
    validateReply("GET", "/ready", 503, unready.json);

    const create = await raw(executor, "POST", "/tasks", JSON.stringify({ name: "on-ro", spec: { process: { command: ["true"] } } }), { "x-request-id": "ro-create-1" });
    expect(create.status).toBeGreaterThanOrEqual(500);
    const logged = await waitFor(() => executor!.output.find((line) => line.includes('"reqId":"ro-create-1"') && line.includes('"level":"error"')));
    expect(JSON.parse(logged)).toMatchObject({ message: "request failed", route: "/tasks", method: "POST", reqId: "ro-create-1" });

    expect(await mount("-o", "remount,rw", dataDir)).toBeUndefined();
    await waitFor(async () => (await raw(executor!, "GET", "/ready")).status === 200, 5000);
  });
});
