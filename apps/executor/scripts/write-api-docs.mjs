// Writes docs/openapi.json and docs/api.md from the built executor (run `pnpm run openapi`, which builds first).
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { apiDocFiles } from "../dist/api-doc-files.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
for (const file of apiDocFiles()) {
  writeFileSync(`${root}${file.path}`, file.content);
  console.log(`wrote ${file.path}`);
}
