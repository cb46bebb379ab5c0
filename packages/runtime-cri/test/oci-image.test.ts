// The test images' builder (@org/testkit oci-image): a valid OCI layout whose digests match their blobs.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUSYBOX_IMAGE, PAUSE_IMAGE, TEST_IMAGES, buildImageArchive, busyboxLayer, realEnvironmentRequired, writeTar } from "@org/testkit";

// With REQUIRE_REAL_ENV=1 (CI) the builder is tested regardless, and fails where busybox or tar is missing.
const hasTools = (existsSync("/bin/busybox") && existsSync("/usr/bin/tar")) || realEnvironmentRequired();
if (!hasTools) console.warn("\n*** buildImageArchive tests SKIPPED: /bin/busybox or /usr/bin/tar is missing ***\n");
const root = mkdtempSync(join(tmpdir(), "oci-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function extract(archive: Buffer): string {
  const dir = mkdtempSync(join(root, "x-"));
  writeFileSync(join(dir, "archive.tar"), archive);
  execFileSync("tar", ["-xf", "archive.tar"], { cwd: dir });
  return dir;
}

function blob(dir: string, digest: string): Buffer {
  const data = readFileSync(join(dir, "blobs", "sha256", digest.replace("sha256:", "")));
  expect(`sha256:${createHash("sha256").update(data).digest("hex")}`).toBe(digest);
  return data;
}

describe("writeTar", () => {
  it("writes a ustar archive the system tar reads: files, modes, dirs, symlinks and long paths", () => {
    const long = `${"d".repeat(90)}/${"e".repeat(60)}/file`;
    const dir = extract(
      writeTar([
        { type: "dir", path: "bin" },
        { type: "file", path: "bin/tool", mode: 0o755, data: Buffer.from("#!/bin/sh\n") },
        { type: "symlink", path: "bin/alias", target: "tool" },
        { type: "file", path: long, data: Buffer.alloc(1000, 7) },
      ]),
    );
    expect(readFileSync(join(dir, "bin/tool"), "utf8")).toBe("#!/bin/sh\n");
    expect(readlinkSync(join(dir, "bin/alias"))).toBe("tool");
    expect(readFileSync(join(dir, long)).length).toBe(1000);
  });
});

describe.skipIf(!hasTools)("buildImageArchive", () => {
  it("builds an OCI layout with the busybox and pause images sharing one layer", async () => {
    const dir = extract(await buildImageArchive(TEST_IMAGES, { applets: ["sh", "echo", "sleep"] }));
    expect(JSON.parse(readFileSync(join(dir, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
    const names = index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations["io.containerd.image.name"]);
    expect(names).toEqual([BUSYBOX_IMAGE, PAUSE_IMAGE]);
    const layers = new Set<string>();
    for (const entry of index.manifests) {
      const manifest = JSON.parse(blob(dir, entry.digest).toString());
      const config = JSON.parse(blob(dir, manifest.config.digest).toString());
      expect(config.rootfs.diff_ids).toEqual([manifest.layers[0].digest]);
      layers.add(blob(dir, manifest.layers[0].digest).length === manifest.layers[0].size ? manifest.layers[0].digest : "bad size");
    }
    expect(layers.size).toBe(1);
    const rootfs = extract(blob(dir, [...layers][0] ?? ""));
    expect(readlinkSync(join(rootfs, "bin/sh"))).toBe("busybox");
    expect(execFileSync(join(rootfs, "bin/echo"), ["hi"], { encoding: "utf8" })).toBe("hi\n");
  });

  it("refuses a dynamically linked busybox, which could not run in the image", async () => {
    await expect(busyboxLayer({ busyboxPath: "/bin/ls", applets: [] })).rejects.toThrow(/dynamically linked.*busybox-static/);
  });
});
