import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compareFlags, documentedFlags, helpFlags, markdownSection, runHelp } from "@org/testkit";

/** The built binary (apps/executor must be built) and the page that documents its flags. */
const BIN = fileURLToPath(new URL("../../bin/task-executor.js", import.meta.url));
const DOCS = fileURLToPath(new URL("../../../../docs/configuration.md", import.meta.url));

describe("docs/configuration.md, section task-executor", () => {
  it("documents exactly the flags (and environment variables) of task-executor --help", async () => {
    const help = await runHelp(BIN, ["--help"]);
    const inHelp = helpFlags(help);
    expect(inHelp.size).toBeGreaterThan(20);
    const documented = documentedFlags(markdownSection(readFileSync(DOCS, "utf8"), "## task-executor"));
    expect(compareFlags(inHelp, documented)).toEqual({ missingInDocs: [], missingInHelp: [], envMismatch: [] });
  });
});
