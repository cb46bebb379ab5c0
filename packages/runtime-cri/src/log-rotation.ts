/**
 * Caps a container's log. The CRI runtime writes `<task dir>/container.log`; past half the cap the file is renamed
 * to `container.log.1` (replacing an older one, which drops output and creates the `log-truncated` marker) and the
 * runtime is asked to reopen its log (ReopenContainerLog), so at most about `maxLogBytes` stay on disk.
 *
 * This works only when the CRI runtime and the executor see the task directory at the same path (a deployment
 * mounts the data dir at the same path into both), since the runtime writes the log by the path we give it.
 */
import { rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { exists, Files } from "./files.js";

export type RotateResult = "kept" | "rotated" | "rotated-truncated";

/** Rotates the log when it is past `maxLogBytes / 2`; `reopen` makes the runtime open a fresh file. */
export async function rotateLogIfNeeded(
  dir: string,
  maxLogBytes: number,
  reopen: () => Promise<void>,
): Promise<RotateResult> {
  if (maxLogBytes <= 0) return "kept";
  const log = join(dir, Files.log);
  let size: number;
  try {
    size = (await stat(log)).size;
  } catch {
    return "kept";
  }
  if (size <= maxLogBytes / 2) return "kept";
  const rotated = join(dir, Files.rotatedLog);
  const dropping = await exists(rotated);
  if (dropping) await writeFile(join(dir, Files.logTruncated), "");
  await rename(log, rotated);
  await reopen();
  return dropping ? "rotated-truncated" : "rotated";
}
