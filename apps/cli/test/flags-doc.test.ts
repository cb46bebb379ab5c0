import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compareFlags, documentedFlags, helpCommands, helpFlags, markdownSection, runHelp, type FlagComparison } from "@org/testkit";
import { TASKCTL } from "./helpers.js";

const DOCS = fileURLToPath(new URL("../../../docs/configuration.md", import.meta.url));

/** Every verb path of taskctl (`[]`, `["run"]`, ..., `["schedule", "create"]`) with its flags compared to the docs. */
async function walk(docs: string, path: string[], results: Map<string, FlagComparison>): Promise<void> {
  const help = await runHelp(TASKCTL, [...path, "--help"]);
  // `## taskctl` holds the global flags; each verb has its own `### taskctl VERB` (`#### taskctl schedule VERB`).
  const heading = `${"#".repeat(2 + path.length)} ${["taskctl", ...path].join(" ")}`;
  const section = markdownSection(docs, heading, { own: true });
  results.set(["taskctl", ...path].join(" "), compareFlags(helpFlags(help), documentedFlags(section)));
  for (const command of helpCommands(help)) await walk(docs, [...path, command], results);
}

describe("docs/configuration.md, section taskctl", () => {
  it("documents exactly the flags of taskctl --help and of every verb's --help", async () => {
    const docs = readFileSync(DOCS, "utf8");
    const results = new Map<string, FlagComparison>();
    await walk(docs, [], results);
    expect(results.size).toBeGreaterThan(15);
    const clean: FlagComparison = { missingInDocs: [], missingInHelp: [], envMismatch: [] };
    expect(Object.fromEntries(results)).toEqual(Object.fromEntries([...results.keys()].map((key) => [key, clean])));
    // No section for a verb that does not exist.
    const documentedVerbs = [...markdownSection(docs, "## taskctl").matchAll(/^#{3,} (taskctl .+)$/gm)].map((match) => match[1]!.trim());
    expect(documentedVerbs.filter((verb) => !results.has(verb))).toEqual([]);
  }, 180_000); // some 20 runs of taskctl one after the other, on a loaded machine
});
