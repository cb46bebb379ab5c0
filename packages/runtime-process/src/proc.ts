import { readFileSync } from "node:fs";

/**
 * The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), which tells a live
 * process apart from a later one that reused its pid. Undefined when the process does not exist. (procfs files
 * are read synchronously: the kernel makes them in memory, so a read never waits for a disk.)
 */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return parseStartTicks(stat);
  } catch {
    return undefined;
  }
}

/** Field 22 of a /proc/PID/stat line; the command name (field 2) may hold spaces and parentheses. */
export function parseStartTicks(stat: string): string | undefined {
  const afterName = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return afterName[19];
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * The start ticks of `pid` if it is a task-shim keeper, else undefined. The command line check keeps a
 * process that merely reused a keeper's pid (after a reboot, say) from ever being taken for it.
 */
export function keeperStartTicks(pid: number): string | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (!cmdline.split("\0")[0]?.endsWith("task-shim")) return undefined;
  } catch {
    return undefined;
  }
  return processStartTicks(pid);
}
