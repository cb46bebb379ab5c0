import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startExecutor, type ExecutorProcess } from "@org/testkit";
import { taskctl } from "./helpers.js";

const TOKEN = "taskctl-test-token-0123456789";

describe("an executor with HTTPS and a bearer token", () => {
  let executor: ExecutorProcess;
  let cert: string;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), "taskctl-tls-"));
    cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    await promisify(execFile)("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
    ]);
    const tokens = join(dir, "tokens");
    await writeFile(tokens, `${TOKEN}\n`);
    executor = await startExecutor({ args: [`--tls-cert-file=${cert}`, `--tls-key-file=${key}`, `--auth-token-file=${tokens}`], token: TOKEN });
  });
  afterAll(async () => {
    await executor.kill();
  });

  it("--ca-file and --token (or TASKCTL_TOKEN) reach it", async () => {
    const result = await taskctl(["--executor", executor.url, "--ca-file", cert, "--token", TOKEN, "run", "--wait", "secure", "--", "sh", "-c", "exit 6"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(6);
    const fromEnv = await taskctl(["--ca-file", cert, "logs", "secure"], { env: { TASKCTL_EXECUTOR: executor.url, TASKCTL_TOKEN: TOKEN } });
    expect(fromEnv.code).toBe(0);
  });

  it("without the token: the executor's 401 as one line", async () => {
    const result = await taskctl(["--executor", executor.url, "--ca-file", cert, "list"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Unauthorized: [^\n]+\n$/);
  });

  it("without the CA: the certificate problem, naming the URL", async () => {
    const result = await taskctl(["--executor", executor.url, "--token", TOKEN, "list"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^error: cannot reach the executor at ${executor.url} \\([^\\n]*certificate[^\\n]*\\)\\n$`));
    const missing = await taskctl(["--executor", executor.url, "--ca-file", "/no/such/ca.pem", "list"]);
    expect(missing.stderr).toMatch(/^error: cannot read --ca-file \/no\/such\/ca\.pem: ENOENT/);
  });
});
