import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkSidecarPrerequisites, findExecutable } from "../src/prerequisites.js";
import { missingCapabilities, parseEffectiveCapabilities } from "../src/procfs.js";

describe("checkSidecarPrerequisites", () => {
  const savedPath = process.env.PATH;
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "sidecar-prereq-"));
  });
  afterEach(async () => {
    process.env.PATH = savedPath;
    await rm(dir, { recursive: true, force: true });
  });

  async function fakeTool(name: string, help: string): Promise<void> {
    await writeFile(join(dir, name), `#!/bin/sh\necho '${help}'\n`);
    await chmod(join(dir, name), 0o755);
  }

  it("names nsenter and unshare when they are not in PATH", async () => {
    process.env.PATH = dir;
    const problems = await checkSidecarPrerequisites();
    expect(problems.filter((problem) => problem.includes("not in PATH"))).toEqual([
      expect.stringMatching(/^nsenter /),
      expect.stringMatching(/^unshare /),
    ]);
  });

  it("names an nsenter without --wdns", async () => {
    await fakeTool("nsenter", " -w, --wd[=<dir>]   set the working directory");
    await fakeTool("unshare", "");
    process.env.PATH = dir;
    const problems = await checkSidecarPrerequisites();
    expect(problems).toContainEqual(expect.stringContaining(`${join(dir, "nsenter")} has no --wdns option`));
    expect(problems.filter((problem) => problem.includes("PATH"))).toEqual([]);
  });

  it("reports exactly the capabilities this process lacks", async () => {
    const capEff = parseEffectiveCapabilities(await readFile("/proc/self/status", "utf8")) ?? 0n;
    const lacking = missingCapabilities(capEff, ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SETUID", "CAP_SETGID", "CAP_SYS_CHROOT"]);
    const reported = (await checkSidecarPrerequisites()).filter((problem) => problem.startsWith("missing capability"));
    expect(reported.map((problem) => problem.split(" ")[2])).toEqual(lacking);
  });

  it("finds executables only in absolute PATH entries", async () => {
    await fakeTool("tool", "");
    expect(await findExecutable("tool", `relative:${dir}`)).toBe(join(dir, "tool"));
    expect(await findExecutable("tool", "relative")).toBeUndefined();
    expect(await findExecutable("nsenter", dir)).toBeUndefined();
  });
});
