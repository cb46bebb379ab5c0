import { lstat, mkdir, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Bytes of the regular files under a directory, not following links. */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await directoryBytes(path);
    else if (entry.isFile()) total += (await lstat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/**
 * Creates a directory and its missing parents. Unlike `mkdir(…, { recursive: true })` of Node 20, which loops
 * for ever on a path under /proc (its mkdir answers ENOENT there), every level is tried once, so a path that
 * cannot be created fails at once.
 */
export async function makeDirectories(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return requireDirectory(dir, error as Error);
    if (code !== "ENOENT" || dirname(dir) === dir) throw error;
  }
  await makeDirectories(dirname(dir));
  try {
    await mkdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    await requireDirectory(dir, error as Error);
  }
}

async function requireDirectory(dir: string, cause: Error): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new Error(`${dir} exists and is not a directory`, { cause });
}
