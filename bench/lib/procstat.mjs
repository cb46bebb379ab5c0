/** CPU time and memory of processes from /proc (Linux). */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

let clockTicks;
/** Clock ticks per second of /proc/PID/stat times (getconf CLK_TCK, 100 on Linux). */
export function ticksPerSecond() {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Fields of /proc/PID/stat after the command name (which may hold spaces); index 0 is `state`. */
function statFields(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
}

/** utime + stime of one process in clock ticks, or undefined when it is gone. */
export function cpuTicks(pid) {
  try {
    const fields = statFields(pid);
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** The process and all its descendants that live now. */
export function processTree(rootPid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  const pids = [];
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.shift();
    pids.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return pids;
}

/** CPU ticks per pid of the tree now, for a later {@link cpuSecondsSince}. */
export function cpuSnapshot(rootPid) {
  const snapshot = new Map();
  for (const pid of processTree(rootPid)) {
    const ticks = cpuTicks(pid);
    if (ticks !== undefined) snapshot.set(pid, ticks);
  }
  return snapshot;
}

/**
 * CPU seconds the tree of `rootPid` used since `before` (processes that appeared meanwhile count from 0; those
 * that exited meanwhile are missed, which is negligible for long-lived daemons measured at rest).
 */
export function cpuSecondsSince(rootPid, before) {
  let ticks = 0;
  for (const pid of processTree(rootPid)) {
    const now = cpuTicks(pid);
    if (now === undefined) continue;
    ticks += now - (before.get(pid) ?? 0);
  }
  return ticks / ticksPerSecond();
}

/** Resident set size of one process in bytes (VmRSS), or undefined when it is gone. */
export function rssBytes(pid) {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sum of the resident set sizes of the tree (shared pages counted once per process). */
export function treeRssBytes(rootPid) {
  return processTree(rootPid).reduce((sum, pid) => sum + (rssBytes(pid) ?? 0), 0);
}

/** Samples the RSS of `pid` every `intervalMs` until stopped; `stop()` returns { maxBytes, lastBytes }. */
export function sampleRss(pid, intervalMs = 500) {
  let maxBytes = rssBytes(pid) ?? 0;
  let lastBytes = maxBytes;
  const timer = setInterval(() => {
    const now = rssBytes(pid);
    if (now !== undefined) {
      lastBytes = now;
      if (now > maxBytes) maxBytes = now;
    }
  }, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      return { maxBytes, lastBytes };
    },
  };
}

/** The 1-minute load average and the number of CPUs, from /proc/loadavg. */
export function loadAverage() {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return undefined;
  }
}
