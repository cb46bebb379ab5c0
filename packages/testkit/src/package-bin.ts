import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * Where a workspace app's binary is: `$envVar` when set, else the `bin` entry `binName` of the package
 * `packageName` as the package running the tests resolves it (from the working directory, like `pnpm exec`
 * does). Undefined when neither is there. The app must be built.
 */
export function findPackageBin(packageName: string, binName: string, envVar: string, from = process.cwd()): string | undefined {
  const given = process.env[envVar];
  if (given) return given;
  let manifest: string;
  try {
    manifest = createRequire(join(from, "package.json")).resolve(`${packageName}/package.json`);
  } catch {
    return undefined;
  }
  const bin = (JSON.parse(readFileSync(manifest, "utf8")) as { bin?: Record<string, string> }).bin?.[binName];
  return bin ? join(dirname(manifest), bin) : undefined;
}
