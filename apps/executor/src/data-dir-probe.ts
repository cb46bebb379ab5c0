import { randomBytes } from "node:crypto";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { TEMP_MARKER } from "@org/store";

/**
 * Proves the data dir takes writes now: creates a probe file, writes and fsyncs it, removes it. `access(W_OK)`
 * would not do: it says yes to root on a read-only or full file system. The name carries the store's temp marker,
 * so a probe left behind by a crash is cleaned up by the next start's scan.
 */
export async function probeDataDir(dataDir: string): Promise<void> {
  const path = join(dataDir, `.ready${TEMP_MARKER}${randomBytes(6).toString("hex")}`);
  let handle;
  try {
    handle = await open(path, "wx", 0o600);
  } catch (error) {
    throw new Error(`cannot create a file in the data dir ${dataDir}: ${(error as Error).message}`);
  }
  try {
    await handle.writeFile("ready\n");
    await handle.sync();
  } catch (error) {
    throw new Error(`cannot write and fsync a file in the data dir ${dataDir}: ${(error as Error).message}`);
  } finally {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
  }
}
