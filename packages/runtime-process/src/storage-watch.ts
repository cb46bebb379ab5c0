import { writeFile } from "node:fs/promises";
import { directoryBytes } from "@org/store";
import { signalQuietly } from "./proc.js";

/**
 * Enforces an ephemeral-storage limit: every interval, the bytes under the task's directory (its logs and, by
 * default, its scratch working dir) are counted; past the limit the reason is recorded in `markerPath` first
 * (so the outcome is `Evicted` even across a restart) and the task's process group is killed.
 */
export function watchEphemeralStorage(options: {
  dir: string;
  limitBytes: number;
  processGroup: number;
  markerPath: string;
  intervalMs?: number;
}): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void directoryBytes(options.dir)
      .then(async (bytes) => {
        if (bytes <= options.limitBytes) return;
        await writeFile(options.markerPath, `the task used ${bytes} bytes of ephemeral storage, over its limit of ${options.limitBytes}`);
        signalQuietly(-options.processGroup, "SIGKILL");
        clearInterval(timer);
      })
      .finally(() => {
        busy = false;
      });
  }, options.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
