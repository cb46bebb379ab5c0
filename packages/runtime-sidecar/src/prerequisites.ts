import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { missingCapabilities, parseEffectiveCapabilities, type CapabilityName } from "./procfs.js";

/** The util-linux programs every sidecar task is launched through, as absolute paths on the executor's side. */
export interface SidecarTools {
  nsenter: string;
  unshare: string;
}

/** What each capability is needed for. */
const NEEDED_CAPABILITIES: Record<CapabilityName, string> = {
  CAP_SYS_ADMIN: "entering the main container's namespaces (setns)",
  CAP_SYS_PTRACE: "reading the main container's /proc entries (environ, ns, root, cwd) when it runs as another user",
  CAP_SETUID: "running tasks as the main container's user",
  CAP_SETGID: "running tasks as the main container's group",
  CAP_SYS_CHROOT: "using the main container's root directory",
};

/** The first executable file called `name` in a PATH-style list of directories. */
export async function findExecutable(name: string, searchPath = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of searchPath.split(":")) {
    if (!dir.startsWith("/")) continue;
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      if ((await stat(file)).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** nsenter and unshare from the executor's PATH, or undefined when either is missing. */
export async function findSidecarTools(): Promise<SidecarTools | undefined> {
  const [nsenter, unshare] = await Promise.all([findExecutable("nsenter"), findExecutable("unshare")]);
  return nsenter && unshare ? { nsenter, unshare } : undefined;
}

/**
 * What keeps sidecar mode from working on this host, as readable sentences; empty when nothing does.
 * The executor checks this at start-up.
 */
export async function checkSidecarPrerequisites(): Promise<string[]> {
  const problems: string[] = [];
  for (const tool of ["nsenter", "unshare"]) {
    const path = await findExecutable(tool);
    if (!path) {
      problems.push(`${tool} (util-linux) is not in PATH; sidecar mode launches every task through it`);
    } else if (tool === "nsenter" && !(await supportsWdns(path))) {
      problems.push(`${path} has no --wdns option (util-linux 2.38 or newer); it is needed for tasks' workingDir`);
    }
  }
  const capabilities = parseEffectiveCapabilities(await readFile("/proc/self/status", "utf8").catch(() => ""));
  if (capabilities === undefined) {
    problems.push("cannot read the effective capabilities (CapEff) from /proc/self/status");
  } else {
    for (const name of missingCapabilities(capabilities, Object.keys(NEEDED_CAPABILITIES) as CapabilityName[])) {
      problems.push(`missing capability ${name} (in CapEff of /proc/self/status), needed for ${NEEDED_CAPABILITIES[name]}`);
    }
  }
  return problems;
}

async function supportsWdns(nsenter: string): Promise<boolean> {
  try {
    const { stdout } = await promisify(execFile)(nsenter, ["--help"], { timeout: 5000 });
    return stdout.includes("--wdns");
  } catch {
    return false;
  }
}
