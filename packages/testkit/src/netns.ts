import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A network namespace joined to the host by a veth pair: inside `address` (10.213.N.2/24, on `eth0`, with `lo`
 * up), on the host `hostAddress` (10.213.N.1/24) on `hostInterface`. A server listening on `address` inside is
 * reachable from the host (and so from a local kube-apiserver's pod proxy, which refuses loopback pod IPs).
 */
export interface NetnsHost {
  name: string;
  index: number;
  address: string;
  hostAddress: string;
  hostInterface: string;
  /** Prefix that runs a command inside: `[...exec, "node", "x.js"]`. */
  exec: string[];
  /** Kills what still runs inside, deletes the namespace and the veth pair. Idempotent. */
  remove(): Promise<void>;
}

/** Namespaces are named `tek8s-N`; N in 1..250 selects the subnet 10.213.N.0/24. */
export const NETNS_PREFIX = "tek8s-";
const MAX_INDEX = 250;
/** One file per namespace in use, holding the owning process's pid: creation is claimed with O_EXCL. */
const CLAIM_DIR = join(tmpdir(), "task-executor-netns");

function claimFile(index: number): string {
  return join(CLAIM_DIR, `${NETNS_PREFIX}${index}`);
}

/** The pid in a claim file (0 when unreadable), undefined when there is no claim. */
function readOwner(index: number): number | undefined {
  try {
    return Number(readFileSync(claimFile(index), "utf8").trim()) || 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function ip(args: string[]): Promise<string> {
  try {
    return (await run("ip", args)).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

async function ipQuiet(args: string[]): Promise<void> {
  await run("ip", args).catch(() => undefined);
}

/** Kills the processes inside the namespace, then deletes it and the host side of its veth pair. */
async function destroy(index: number): Promise<void> {
  const name = `${NETNS_PREFIX}${index}`;
  const pids = await run("ip", ["netns", "pids", name]).then(
    (result) => result.stdout.split(/\s+/).filter(Boolean).map(Number),
    () => [] as number[],
  );
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await ipQuiet(["netns", "del", name]);
  await ipQuiet(["link", "del", `${name}h`]);
}

/** Takes the claim on `index` for this process; a claim whose owner died is taken over (after cleaning up). */
async function claim(index: number): Promise<boolean> {
  mkdirSync(CLAIM_DIR, { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(claimFile(index), String(process.pid), { flag: "wx" });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readOwner(index);
    if (owner === undefined) continue; // released meanwhile
    if (owner === 0 || processAlive(owner)) return false; // 0: being written by its new owner
    await destroy(index);
    // Release the dead owner's claim unless another process took it over meanwhile.
    if (readOwner(index) === owner) {
      try {
        unlinkSync(claimFile(index));
      } catch {
        // another process cleaned it up first
      }
    }
  }
  return false;
}

/**
 * Creates a network namespace with a veth pair to the host. With `index` (1..250) that one, failing when a
 * live process holds it; without, the first free one. Requires root and `ip` (iproute2).
 */
export async function createNetnsHost(index?: number): Promise<NetnsHost> {
  let chosen: number | undefined;
  if (index !== undefined) {
    if (!Number.isInteger(index) || index < 1 || index > MAX_INDEX) throw new Error(`netns index must be 1..${MAX_INDEX}, got ${index}`);
    if (!(await claim(index))) throw new Error(`network namespace ${NETNS_PREFIX}${index} is in use by another process`);
    chosen = index;
  } else {
    for (let candidate = 1; candidate <= MAX_INDEX && chosen === undefined; candidate++) {
      if (await claim(candidate)) chosen = candidate;
    }
    if (chosen === undefined) throw new Error(`all ${MAX_INDEX} test network namespaces are in use`);
  }
  const n = chosen;
  const name = `${NETNS_PREFIX}${n}`;
  const hostInterface = `${name}h`;
  const address = `10.213.${n}.2`;
  const hostAddress = `10.213.${n}.1`;
  let removed = false;
  const remove = async () => {
    if (removed) return;
    removed = true;
    await destroy(n);
    try {
      unlinkSync(claimFile(n));
    } catch {
      // already released
    }
  };
  try {
    await destroy(n); // leftovers of a process that died before releasing its claim
    await ip(["netns", "add", name]);
    await ip(["link", "add", hostInterface, "type", "veth", "peer", "name", "eth0", "netns", name]);
    await ip(["addr", "add", `${hostAddress}/24`, "dev", hostInterface]);
    await ip(["link", "set", hostInterface, "up"]);
    await ip(["-n", name, "link", "set", "lo", "up"]);
    await ip(["-n", name, "addr", "add", `${address}/24`, "dev", "eth0"]);
    await ip(["-n", name, "link", "set", "eth0", "up"]);
    // Replies to the host leave through the veth; the subnet route covers them, nothing else is routed.
  } catch (error) {
    await remove();
    throw error;
  }
  return { name, index: n, address, hostAddress, hostInterface, exec: ["ip", "netns", "exec", name], remove };
}

/** Removes test namespaces whose owning process is gone (e.g. a test run that was killed). */
export async function removeStaleNetnsHosts(): Promise<void> {
  let entries: string[];
  try {
    entries = readdirSync(CLAIM_DIR);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(NETNS_PREFIX)) continue;
    const index = Number(entry.slice(NETNS_PREFIX.length));
    if (!Number.isInteger(index)) continue;
    const owner = readOwner(index);
    if (owner === undefined || owner === 0 || processAlive(owner)) continue;
    await destroy(index);
    if (readOwner(index) === owner) {
      try {
        unlinkSync(claimFile(index));
      } catch {
        // already released
      }
    }
  }
}
