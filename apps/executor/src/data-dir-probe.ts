import { randomBytes } from "node:crypto";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { TEMP_MARKER, writeFileAtomic } from "@org/store";

/**
 * Proves the data dir takes writes now, the way the store writes its snapshot (temp file, fsync, rename, fsync of
 * the directory), then removes the probe. `access(W_OK)` would not do: it says yes to root on a read-only or full
 * file system. The name carries the store's temp marker, so a probe left behind by a crash is cleaned up by the
 * next start's scan.
 */
export async function probeDataDir(dataDir: string): Promise<void> {
  const path = join(dataDir, `.ready${TEMP_MARKER}${randomBytes(6).toString("hex")}`);
  try {
    await writeFileAtomic(path, "ready\n");
  } catch (error) {
    throw new Error(`cannot write and fsync a file in the data dir ${dataDir}: ${(error as Error).message}`);
  } finally {
    await unlink(path).catch(() => undefined); // absent when the write failed before its rename
  }
}
