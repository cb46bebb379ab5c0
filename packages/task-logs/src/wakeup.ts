import { watch, type FSWatcher } from "node:fs";
import { dirname } from "node:path";

/** How long to gather further change events before looking at the files. */
const SETTLE_MS = 10;

/**
 * Wakes a follower when a watched directory changes, when the poll interval has passed or when the signal
 * aborts, whichever comes first. File watching is best effort (it is unreliable on some file systems and
 * cannot watch a directory that does not exist yet); the poll interval is the safety net.
 */
export class Wakeup {
  private changed = false;
  private onChange: (() => void) | undefined;
  private readonly watchers: FSWatcher[] = [];

  /** Watches the directories holding `paths`. */
  constructor(paths: Iterable<string>) {
    for (const dir of new Set([...paths].map((path) => dirname(path)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.notify());
        watcher.on("error", () => watcher.close());
        this.watchers.push(watcher);
      } catch {
        // Not watchable (missing directory, no inotify left): polling covers it.
      }
    }
  }

  /** Resolves after `pollMs`, soon after a change, or at once if a change came since the last wait. */
  wait(pollMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let settle: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        clearTimeout(settle);
        signal?.removeEventListener("abort", done);
        this.onChange = undefined;
        this.changed = false;
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      signal?.addEventListener("abort", done, { once: true });
      this.onChange = () => {
        settle ??= setTimeout(done, SETTLE_MS);
      };
      if (this.changed) this.onChange();
    });
  }

  /** Stops watching. */
  close(): void {
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
  }

  private notify(): void {
    this.changed = true;
    this.onChange?.();
  }
}
