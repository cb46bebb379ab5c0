// Writes deploy/crds/*.yaml from the zod schemas (`pnpm --filter @org/task-api crds`, after a build).
import { mkdirSync, writeFileSync } from "node:fs";
import { allCrds, crdFileText } from "../dist/index.js";

const dir = new URL("../../../deploy/crds/", import.meta.url);
mkdirSync(dir, { recursive: true });
for (const { file, manifest } of allCrds()) {
  writeFileSync(new URL(file, dir), crdFileText(manifest));
  console.log(`wrote deploy/crds/${file}`);
}
