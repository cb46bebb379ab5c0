/**
 * Pure parsers for the /proc files sidecar mode reads. They take file contents and never touch the file system.
 */

/** Entries (`NAME=value`) of a /proc/PID/environ file: NUL-separated, a trailing NUL, no escaping. */
export function parseEnviron(content: string): string[] {
  return content.split("\0").filter((entry) => entry.length > 0);
}

/** What sidecar mode needs from a /proc/PID/stat line. */
export interface ProcStat {
  pid: number;
  /** Field 4. */
  ppid: number;
  /** Field 22: clock ticks after boot at which the process started. */
  startTime: number;
}

/**
 * Parses a /proc/PID/stat line. The command name (field 2) is in parentheses and may itself hold spaces and
 * parentheses, so the fields after it are counted from the last `)`.
 */
export function parseStat(content: string): ProcStat | undefined {
  const open = content.indexOf("(");
  const close = content.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const pid = Number(content.slice(0, open).trim());
  // Field 3 (state) is the first one after the name.
  const rest = content.slice(close + 1).trim().split(/\s+/);
  const ppid = Number(rest[4 - 3]);
  const startTime = Number(rest[22 - 3]);
  if (![pid, ppid, startTime].every((value) => Number.isSafeInteger(value) && value >= 0)) return undefined;
  return { pid, ppid, startTime };
}

/** The effective user and group ids of a /proc/PID/status file (`Uid:`/`Gid:` lines: real, effective, saved, fs). */
export function parseEffectiveIds(status: string): { uid: number; gid: number } | undefined {
  const uid = statusField(status, "Uid")?.[1];
  const gid = statusField(status, "Gid")?.[1];
  if (uid === undefined || gid === undefined) return undefined;
  const ids = { uid: Number(uid), gid: Number(gid) };
  return Number.isSafeInteger(ids.uid) && Number.isSafeInteger(ids.gid) && ids.uid >= 0 && ids.gid >= 0
    ? ids
    : undefined;
}

/** The effective capability set (`CapEff:`, hex) of a /proc/PID/status file. */
export function parseEffectiveCapabilities(status: string): bigint | undefined {
  const hex = statusField(status, "CapEff")?.[0];
  if (hex === undefined || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return BigInt(`0x${hex}`);
}

/** Capability numbers from linux/capability.h that sidecar mode relies on. */
export const Capabilities = {
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
} as const;
export type CapabilityName = keyof typeof Capabilities;

/** The capabilities of `names` missing from the set. */
export function missingCapabilities(set: bigint, names: CapabilityName[]): CapabilityName[] {
  return names.filter((name) => ((set >> BigInt(Capabilities[name])) & 1n) === 0n);
}

function statusField(status: string, name: string): string[] | undefined {
  for (const line of status.split("\n")) {
    if (line.startsWith(`${name}:`)) return line.slice(name.length + 1).trim().split(/\s+/);
  }
  return undefined;
}
