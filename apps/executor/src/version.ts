import { readFileSync } from "node:fs";

/** The executor's version, from its package.json (this file is in src/ or dist/). */
export const EXECUTOR_VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
