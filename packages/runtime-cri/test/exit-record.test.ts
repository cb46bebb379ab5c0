// The container runtime's exit record (container-exit.json): the only copy of a container's exit code once the
// container is removed, so it must be on disk before that, and a record that cannot be read must be reported.
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TEMP_MARKER } from "@org/store";
import type { Logger } from "@org/task-core";
import { Files, readExit, writeExit } from "../src/files.js";

const FILES_DIST = fileURLToPath(new URL("../dist/files.js", import.meta.url));

describe("the container exit record", () => {
  it("is fsynced, renamed into place and its directory fsynced (power-cut safe) before writeExit resolves", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cri-exit-"));
    const work = await mkdtemp(join(tmpdir(), "cri-exit-trace-"));
    const program = join(work, "run.mjs");
    const trace = join(work, "trace");
    await writeFile(
      program,
      `import { writeExit } from ${JSON.stringify(FILES_DIST)};\n` +
        `await writeExit(process.argv[2], { exitCode: 3, reason: "Failed", finishedAt: new Date().toISOString() });\n` +
        `process.stdout.write("written\\n");\n`,
    );
    const result = spawnSync("strace", ["-f", "-y", "-qq", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,write", "-o", trace, process.execPath, program, dir], { encoding: "utf8", timeout: 30_000 });
    expect(result.status, `strace is needed for this test (scripts/setup.sh --test installs it): ${result.stderr}`).toBe(0);
    const calls = (await readFile(trace, "utf8"))
      .split("\n")
      .filter((line) => line && !line.includes("resumed>"))
      .map((line) => line.replace(/^\d+\s+/, ""));
    const target = join(dir, Files.exit);
    const fileSynced = calls.findIndex((call) => /^f(data)?sync\(/.test(call) && call.includes(`${target}${TEMP_MARKER}`));
    const renamed = calls.findIndex((call) => /^rename(at2?)?\(/.test(call) && call.includes(`${target}"`));
    const dirSynced = calls.findIndex((call, index) => index > renamed && /^f(data)?sync\(/.test(call) && call.includes(`<${dir}>)`));
    const reported = calls.findIndex((call) => call.startsWith("write(1") && call.includes("written"));
    expect(fileSynced, calls.join("\n")).toBeGreaterThanOrEqual(0);
    expect(renamed).toBeGreaterThan(fileSynced);
    expect(dirSynced, `no fsync of ${dir} after the rename:\n${calls.join("\n")}`).toBeGreaterThan(renamed);
    expect(reported).toBeGreaterThan(dirSynced);
    expect(JSON.parse(await readFile(target, "utf8"))).toMatchObject({ exitCode: 3 });
  });

  it("a record that exists but cannot be parsed is logged, not taken silently for no outcome", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cri-exit-corrupt-"));
    await writeFile(join(dir, Files.exit), '{"exitCode": 3, "reas');
    const logged: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
    const logger: Logger = {
      error: (message, meta) => logged.push({ level: "error", message, ...(meta ? { meta } : {}) }),
      warn: (message, meta) => logged.push({ level: "warn", message, ...(meta ? { meta } : {}) }),
      info: () => undefined,
      debug: () => undefined,
    };
    expect(await readExit(dir, logger)).toBeUndefined();
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: "error", meta: { path: join(dir, Files.exit) } });
    // No record at all is the normal case of a running task and logs nothing.
    const empty = await mkdtemp(join(tmpdir(), "cri-exit-none-"));
    expect(await readExit(empty, logger)).toBeUndefined();
    expect(logged).toHaveLength(1);
    await writeExit(empty, { exitCode: 0, reason: "Succeeded", finishedAt: new Date().toISOString() });
    expect(await readExit(empty, logger)).toMatchObject({ exitCode: 0, reason: "Succeeded" });
  });
});
