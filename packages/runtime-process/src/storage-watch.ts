import { writeFile } from "node:fs/promises";
import { directoryBytes } from "@org/store";
import type { Logger } from "@org/task-core";
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
  logger: Logger;
  taskName: string;
}): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void directoryBytes(options.dir)
      .then(async (bytes) => {
        if (bytes <= options.limitBytes) return;
        const reason = `the task used ${bytes} bytes of ephemeral storage, over its limit of ${options.limitBytes}`;
        try {
          await writeFile(options.markerPath, reason);
        } catch (error) {
          // The limit is enforced all the same; without the marker the task ends with the reason of its signal.
          options.logger.error("cannot record the eviction of a task; it is killed anyway", { task: options.taskName, marker: options.markerPath, error: String(error) });
        }
        options.logger.warn("task over its ephemeral-storage limit; killing it", { task: options.taskName, bytes, limitBytes: options.limitBytes });
        signalQuietly(-options.processGroup, "SIGKILL");
        clearInterval(timer);
      })
      .catch((error: unknown) => {
        options.logger.warn("cannot measure the ephemeral storage of a task", { task: options.taskName, dir: options.dir, error: String(error) });
      })
      .finally(() => {
        busy = false;
      });
  }, options.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
