import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { realEnvironmentRequired } from "./containerd.js";

/** The namespaces a main-container fixture has of its own. */
export type FixtureNamespace = "mnt" | "uts" | "ipc" | "net" | "pid";
const NAMESPACES: FixtureNamespace[] = ["mnt", "uts", "ipc", "net", "pid"];

export interface MainContainerOptions {
  /** Value of SANDBOX_MAIN_CONTAINER (default `main`); use a unique one when other tests may run alongside. */
  name?: string;
  /** More environment of the main process. */
  env?: Record<string, string>;
  /** Run the main process as this user and group (through setpriv) once the namespaces are set up; default root. */
  user?: { uid: number; gid: number };
}

/** A stand-in for a pod's main container: a process with its own mount, UTS, IPC, network and PID namespaces. */
export interface MainContainerFixture {
  /** The main process (PID 1 of its PID namespace) as seen from the test. */
  pid: number;
  name: string;
  hostname: string;
  /** A file that exists only in the fixture's mount namespace (on a tmpfs); it holds `marker`. */
  markerFile: string;
  /** The tmpfs directory holding `markerFile`; also the main process's working directory. */
  dir: string;
  /** `MAIN_MARKER` in the main process's environment; also the content of `markerFile`. */
  marker: string;
  /** `readlink /proc/PID/ns/<kind>` of the main process, e.g. `mnt:[4026532176]`. */
  nsIds: Record<FixtureNamespace, string>;
  /** Kills the fixture's PID namespace and waits until the main process is gone. */
  stop(): Promise<void>;
}

/**
 * The main process's script: hostname, a tmpfs with the marker file, then a keep-alive loop that reaps orphans
 * (as a pod's pause process does) and ends once its stdout, a pipe to the test, is closed (so a crashed test
 * leaks nothing). Only this process and its children carry SANDBOX_MAIN_CONTAINER; `unshare` itself does not.
 */
const SETUP = `set -e
hostname "$1"
mount -t tmpfs -o mode=0755 tmpfs "$2"
printf '%s\\n' "$3" > "$2/marker"
chmod 0644 "$2/marker"
cd "$2"
shift 3
exec "$@" sh -c 'echo ready; while echo alive; do sleep 1; done'`;

/**
 * Why namespaces cannot be created here (not root, no unshare, a seccomp policy...), or undefined when they can.
 * Tests that need a main container skip with this reason. With REQUIRE_REAL_ENV=1 (CI) it is always undefined:
 * the tests run, and fail where namespaces are missing.
 */
export async function namespaceSupport(): Promise<string | undefined> {
  if (realEnvironmentRequired()) return undefined;
  try {
    await promisify(execFile)(
      "unshare",
      ["--fork", "--pid", "--mount-proc", "--mount", "--uts", "--ipc", "--net", "--", "hostname", "probe"],
      { timeout: 10_000 },
    );
    return undefined;
  } catch (error) {
    return `cannot create namespaces with unshare: ${String((error as Error).message ?? error).trim()}`;
  }
}

/** Starts a main-container fixture. Its process is no descendant of the test process (like a real container). */
export async function startMainContainer(options: MainContainerOptions = {}): Promise<MainContainerFixture> {
  const name = options.name ?? "main";
  const id = randomBytes(4).toString("hex");
  const hostname = `main-${id}`;
  const marker = `marker-${id}`;
  const dir = await mkdtemp(join(tmpdir(), "main-container-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/",
    ...options.env,
    SANDBOX_MAIN_CONTAINER: name,
    MAIN_MARKER: marker,
  };
  const drop = options.user
    ? ["setpriv", `--reuid=${options.user.uid}`, `--regid=${options.user.gid}`, "--clear-groups"]
    : [];
  // setsid --fork: the launching setsid exits at once, so unshare is re-parented away from the test process.
  const child = spawn(
    "setsid",
    [
      "--fork", "unshare", "--fork", "--kill-child", "--pid", "--mount-proc", "--mount", "--uts", "--ipc", "--net", "--",
      "env", "-i", ...Object.entries(env).map(([key, value]) => `${key}=${value}`),
      "sh", "-c", SETUP, "main-container", hostname, dir, marker, ...drop,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const stderr: string[] = [];
  child.stderr.setEncoding("utf8").on("data", (text: string) => stderr.push(text));
  const close = (): void => {
    child.stdout.destroy();
    child.stderr.destroy();
  };
  try {
    await waitForReady(child.stdout, () => stderr.join(""));
    const pid = await findMainProcess(marker);
    const nsIds = {} as Record<FixtureNamespace, string>;
    for (const kind of NAMESPACES) nsIds[kind] = await readlink(`/proc/${pid}/ns/${kind}`);
    // Keep reading (and dropping) the keep-alive lines without holding the test process open.
    child.stdout.resume();
    for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    return {
      pid, name, hostname, dir, marker, nsIds,
      markerFile: join(dir, "marker"),
      stop: async () => {
        close();
        killQuietly(pid);
        await waitGone(pid);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    close();
    const pid = await findMainProcess(marker, 0).catch(() => undefined);
    if (pid) killQuietly(pid);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

function waitForReady(stdout: NodeJS.ReadableStream, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: stdout });
    let settled = false;
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      lines.close();
      if (error) reject(new Error(`main-container fixture did not start (${error.message}): ${stderr()}`));
      else resolve();
    };
    const timer = setTimeout(() => settle(new Error("timed out")), 10_000);
    lines.on("line", (line) => {
      if (line === "ready") settle();
    });
    lines.on("close", () => settle(new Error("it exited")));
  });
}

/** The PID-1-of-its-namespace process carrying `MAIN_MARKER=marker`, as seen from here. */
async function findMainProcess(marker: string, attempts = 50): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    for (const entry of await readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const environ = await readFile(`/proc/${entry}/environ`, "utf8");
        if (!environ.split("\0").includes(`MAIN_MARKER=${marker}`)) continue;
        const nspid = /^NSpid:\s+(.*)$/m.exec(await readFile(`/proc/${entry}/status`, "utf8"))?.[1]?.split(/\s+/);
        if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === "1") return Number(entry);
      } catch {
        // gone meanwhile
      }
    }
    if (attempt >= attempts) throw new Error(`no process with MAIN_MARKER=${marker} is PID 1 of a PID namespace`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

async function waitGone(pid: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
    if (stat === undefined || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`main-container process ${pid} is still alive`);
}
