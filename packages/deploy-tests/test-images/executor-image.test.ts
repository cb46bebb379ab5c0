import { execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importImageArchive, startContainerd, waitFor, type ContainerdEnv } from "@org/testkit";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const BUILD_SCRIPT = join(REPO, "scripts/build-images.sh");
const VERSION = (JSON.parse(readFileSync(join(REPO, "apps/executor/package.json"), "utf8")) as { version: string }).version;
const IMAGE = `localhost/task-executor:${VERSION}`;
const CONTAINER = `executor-image-test-${process.pid}`;

/**
 * scripts/build-images.sh executor; resolves with the archive path it printed last. EXECUTOR_IMAGE_ARCHIVE
 * names an archive that script built before, to test it without building again.
 */
function buildImage(): Promise<string> {
  const given = process.env.EXECUTOR_IMAGE_ARCHIVE;
  if (given) {
    if (!existsSync(given)) return Promise.reject(new Error(`EXECUTOR_IMAGE_ARCHIVE=${given} does not exist`));
    return Promise.resolve(given);
  }
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT, "executor"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, IMAGES_OUT: mkdtempSync(join(tmpdir(), "images-")) } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("close", (code) => {
      const archive = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && existsSync(archive)) resolve(archive);
      else reject(new Error(`build-images.sh exited with ${code}:\n${stderr.split("\n").slice(-40).join("\n")}`));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

describe("the executor image", () => {
  let containerd: ContainerdEnv;
  let ctr: (args: string[]) => Promise<string>;
  let url: string;
  let dataDir: string;

  beforeAll(async () => {
    const archive = await buildImage();
    containerd = await startContainerd();
    ctr = async (args) => (await run("ctr", ["-n", "k8s.io", "--address", containerd.socketPath, ...args], { timeout: 120_000 })).stdout;
    await importImageArchive(containerd.socketPath, archive, containerd.snapshotter);
    expect(await ctr(["images", "ls", "-q"])).toContain(IMAGE);
    // The image runs as uid 1000: the data dir on the host belongs to it, as a volume's would.
    dataDir = mkdtempSync(join(tmpdir(), "executor-image-data-"));
    chownSync(dataDir, 1000, 1000);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // Host network, the data dir mounted at the image's default path, the image's own entrypoint and user.
    await ctr([
      "run", "--detach", "--net-host", "--snapshotter", containerd.snapshotter,
      "--mount", `type=bind,src=${dataDir},dst=/var/lib/sandbox/tasks,options=rbind:rw`,
      "--env", `LISTEN_ADDR=127.0.0.1:${port}`,
      IMAGE, CONTAINER,
    ]);
  });

  afterAll(async () => {
    if (ctr) {
      await ctr(["task", "kill", "--signal", "SIGKILL", CONTAINER]).catch(() => undefined);
      await waitFor(async () => !(await ctr(["task", "ls", "-q"]).catch(() => "")).includes(CONTAINER), 30_000, 200).catch(() => undefined);
      await ctr(["task", "delete", CONTAINER]).catch(() => undefined);
      await ctr(["containers", "delete", CONTAINER]).catch(() => undefined);
    }
    await containerd?.stop();
  });

  it("answers /health and /ready and runs a task as a non-root user, keeping it in the mounted data dir", async () => {
    const health = await waitFor(async () => {
      const response = await fetch(`${url}/health`).catch(() => undefined);
      return response?.ok ? ((await response.json()) as Record<string, unknown>) : undefined;
    }, 60_000, 250);
    expect(health).toMatchObject({ status: "healthy", auth: "disabled", sidecar: false });
    // Ready: the mounted data dir is writable for the image's user.
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: "ready" });

    const created = await fetch(`${url}/tasks`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "in-the-image", spec: { process: { command: ["sh", "-c", "echo uid=$(id -u); node --version"] } } }),
    });
    expect(created.status).toBe(201);
    const done = (await (await fetch(`${url}/tasks/in-the-image?waitFor=terminated&timeoutSeconds=60`)).json()) as any;
    expect(done.status.state.terminated).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    const logs = await (await fetch(`${url}/tasks/in-the-image/logs`)).text();
    expect(logs).toContain("uid=1000");
    expect(logs).toMatch(/v20\./);
    // The task's files and its record (in the store's journal, or its snapshot once the journal was retired) are
    // in the mounted data dir.
    expect(existsSync(join(dataDir, "in-the-image", "stdout.log"))).toBe(true);
    const recordFiles = readdirSync(dataDir).filter((name) => name.startsWith(".journal.") || name === "tasks.snapshot");
    expect(recordFiles.some((name) => readFileSync(join(dataDir, name), "utf8").includes('"name":"in-the-image"'))).toBe(true);
  });
});
