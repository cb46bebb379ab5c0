// Log capping without a runtime: rename to .1, reopen, mark dropped output.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { rotateLogIfNeeded } from "../src/log-rotation.js";

const root = mkdtempSync(join(tmpdir(), "cri-rotate-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function taskDir(): string {
  return mkdtempSync(join(root, "task-"));
}

describe("rotateLogIfNeeded", () => {
  it("keeps a log up to half the cap, and does nothing without a cap or a log", async () => {
    const dir = taskDir();
    let reopened = 0;
    const reopen = async () => void reopened++;
    expect(await rotateLogIfNeeded(dir, 100, reopen)).toBe("kept");
    writeFileSync(join(dir, "container.log"), "x".repeat(50));
    expect(await rotateLogIfNeeded(dir, 100, reopen)).toBe("kept");
    writeFileSync(join(dir, "container.log"), "x".repeat(500));
    expect(await rotateLogIfNeeded(dir, 0, reopen)).toBe("kept");
    expect(reopened).toBe(0);
  });

  it("renames past half the cap and asks for a reopen; replacing an older .1 marks the log truncated", async () => {
    const dir = taskDir();
    let reopened = 0;
    const reopen = async () => {
      reopened++;
      writeFileSync(join(dir, "container.log"), "");
    };
    writeFileSync(join(dir, "container.log"), "first".repeat(20));
    expect(await rotateLogIfNeeded(dir, 100, reopen)).toBe("rotated");
    expect(readFileSync(join(dir, "container.log.1"), "utf8")).toBe("first".repeat(20));
    expect(existsSync(join(dir, "log-truncated"))).toBe(false);

    writeFileSync(join(dir, "container.log"), "second".repeat(20));
    expect(await rotateLogIfNeeded(dir, 100, reopen)).toBe("rotated-truncated");
    expect(readFileSync(join(dir, "container.log.1"), "utf8")).toBe("second".repeat(20));
    expect(readFileSync(join(dir, "log-truncated"), "utf8")).toBe("");
    expect(reopened).toBe(2);
  });
});
