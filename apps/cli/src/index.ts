/** @org/cli — taskctl; the pure parts are exported for reuse and tests. */
export { buildProgram } from "./program.js";
export { parseDuration, humanDuration } from "./duration.js";
export { parseSelector, matches } from "./selector.js";
export { parseManifest } from "./manifest.js";
export type { TaskView } from "./view.js";
