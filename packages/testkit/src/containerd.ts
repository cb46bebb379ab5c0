/**
 * A private containerd for tests: runs scripts/containerd-test-env.sh, then builds and imports the busybox test
 * images (localhost/busybox:test, localhost/pause:test). One instance per test process, shared by every caller in
 * it; the last `stop()` (or the process's exit) stops it and removes its state (and the per-process directory,
 * unless KEEP_CONTAINERD_DIR=1 keeps it, with containerd.log, for a look after a failure).
 */
import { execFile, spawnSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUSYBOX_IMAGE, PAUSE_IMAGE, TEST_IMAGES, importImageArchive, writeImageArchive } from "./oci-image.js";

/** scripts/containerd-test-env.sh of the repository (src/ and dist/ sit at the same depth). */
export const CONTAINERD_SCRIPT = fileURLToPath(new URL("../../../scripts/containerd-test-env.sh", import.meta.url));

export interface ContainerdEnv {
  socketPath: string;
  /** The instance's directory (config, root, state, containerd.log). */
  dir: string;
  snapshotter: string;
  images: { busybox: string; pause: string };
  /** Releases this caller's use; the last one stops containerd. */
  stop(): Promise<void>;
}

export interface StartContainerdOptions {
  /** Directory of the instance; default $CONTAINERD_TEST_DIR, else a per-process directory under the temp dir. */
  dir?: string;
}

interface Instance {
  socketPath: string;
  dir: string;
  snapshotter: string;
}

let shared: Promise<Instance> | undefined;
let sharedDir: string | undefined;
let users = 0;
let exitHook = false;

function onPath(binary: string): boolean {
  return (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").some((dir) => {
    try {
      accessSync(join(dir, binary), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * True when every real-environment suite (containerd, namespaces, cgroups, full disk) must run: a missing
 * capability is then a test failure, never a skip. `scripts/test-all.sh` sets REQUIRE_REAL_ENV=1 in CI.
 */
export function realEnvironmentRequired(): boolean {
  return process.env.REQUIRE_REAL_ENV === "1";
}

/**
 * Why containerd cannot run on this machine, or undefined when it can (then the tests must run, and a failing
 * start is a test failure, not a skip). With REQUIRE_CONTAINERD=1 or REQUIRE_REAL_ENV=1 this always returns
 * undefined.
 */
export function containerdSkipReason(): string | undefined {
  if (process.env.REQUIRE_CONTAINERD === "1" || realEnvironmentRequired()) return undefined;
  if (process.platform !== "linux") return `containerd tests need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "containerd tests need root (they run a private containerd and runc)";
  if (!existsSync("/sys/fs/cgroup") || readdirSync("/sys/fs/cgroup").length === 0) return "no cgroup file system at /sys/fs/cgroup";
  const installed = onPath("containerd") && onPath("runc") && onPath("ctr") && existsSync("/bin/busybox");
  if (!installed && !onPath("apt-get")) return "containerd, runc or busybox-static is missing and apt-get is not available to install them";
  return undefined;
}

/** Prints a loud banner saying why the containerd tests are skipped. */
export function announceSkip(reason: string, what = "container runtime tests"): void {
  const line = "!".repeat(100);
  console.warn(`\n${line}\n!!! SKIPPING ${what}: ${reason}\n!!! Set REQUIRE_CONTAINERD=1 to make this a failure.\n${line}\n`);
}

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", [CONTAINERD_SCRIPT, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${CONTAINERD_SCRIPT} ${args.join(" ")} failed: ${error.message}\n${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

function readSnapshotter(dir: string): string {
  const config = readFileSync(join(dir, "config.toml"), "utf8");
  return /^\s*snapshotter\s*=\s*"([^"]+)"/m.exec(config)?.[1] ?? "overlayfs";
}

async function launch(dir: string): Promise<Instance> {
  const out = await runScript(["start", dir], 600_000);
  const socketPath = out.split("\n").pop() ?? "";
  if (!socketPath.startsWith("/")) throw new Error(`containerd-test-env.sh printed no socket path: ${out}`);
  const snapshotter = readSnapshotter(dir);
  const archive = await writeImageArchive(join(dir, "images", "test-images.tar"), TEST_IMAGES);
  await importImageArchive(socketPath, archive, snapshotter);
  return { socketPath, dir, snapshotter };
}

function stopSync(dir: string): void {
  spawnSync("bash", [CONTAINERD_SCRIPT, "stop", dir], { stdio: "ignore", timeout: 60_000 });
}

/** Starts (or joins) this process's containerd with the test images imported. */
export async function startContainerd(options: StartContainerdOptions = {}): Promise<ContainerdEnv> {
  const given = options.dir ?? process.env.CONTAINERD_TEST_DIR;
  const dir = given ?? join(tmpdir(), `containerd-test-${process.pid}`);
  const ownsDir = given === undefined;
  if (shared && sharedDir !== dir) throw new Error(`containerd already runs under ${sharedDir} in this process`);
  users += 1;
  if (!shared) {
    sharedDir = dir;
    shared = launch(dir);
    if (!exitHook) {
      exitHook = true;
      process.once("exit", () => {
        if (shared && sharedDir) stopSync(sharedDir);
      });
    }
  }
  let instance: Instance;
  try {
    instance = await shared;
  } catch (error) {
    users -= 1;
    shared = undefined;
    throw error;
  }
  let released = false;
  return {
    ...instance,
    images: { busybox: BUSYBOX_IMAGE, pause: PAUSE_IMAGE },
    stop: async () => {
      if (released) return;
      released = true;
      users -= 1;
      if (users > 0) return;
      shared = undefined;
      await runScript(["stop", instance.dir], 120_000);
      if (ownsDir && process.env.KEEP_CONTAINERD_DIR !== "1") await rm(instance.dir, { recursive: true, force: true });
    },
  };
}
