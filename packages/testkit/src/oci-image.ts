/**
 * Builds OCI image layout archives from the host's static busybox, so container tests need no registry.
 *
 * One archive can hold several images (tags) that share a single layer: `/bin/busybox` plus a symlink per applet,
 * a few directories, `/etc/passwd` and `/etc/group`. Blobs are uncompressed tars and JSON, their digests are the
 * sha256 of their bytes, and everything is deterministic (fixed mtimes), so the same inputs give the same digests.
 */
import { createHash } from "node:crypto";
import { execFile, execFileSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

/** The general-purpose test image; its default command is `sh`. */
export const BUSYBOX_IMAGE = "localhost/busybox:test";
/** The sandbox ("pause") image: sleeps forever. */
export const PAUSE_IMAGE = "localhost/pause:test";

export interface ImageDefinition {
  /** Full reference, e.g. `localhost/busybox:test`. */
  ref: string;
  cmd: string[];
  entrypoint?: string[];
  env?: string[];
  workingDir?: string;
}

export interface BuildOptions {
  /** The static busybox binary to ship (default /bin/busybox). */
  busyboxPath?: string;
  /** Applets to link; default: every applet the binary lists (`busybox --list`). */
  applets?: string[];
}

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const MTIME = 1_700_000_000;
const MEDIA = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
} as const;

// ---- a minimal ustar writer --------------------------------------------------------------------------------------

export type TarEntry =
  | { type: "file"; path: string; mode?: number; data: Buffer }
  | { type: "dir"; path: string; mode?: number }
  | { type: "symlink"; path: string; target: string };

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  let name = entry.type === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  let prefix = "";
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf("/", name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`tar: path too long: ${entry.path}`);
  }
  const defaultMode = entry.type === "dir" ? 0o755 : entry.type === "symlink" ? 0o777 : 0o644;
  const mode = entry.type === "symlink" ? defaultMode : (entry.mode ?? defaultMode);
  block.write(name, 0, 100, "utf8");
  block.write(octal(mode, 8), 100, "ascii");
  block.write(octal(0, 8), 108, "ascii"); // uid
  block.write(octal(0, 8), 116, "ascii"); // gid
  block.write(octal(size, 12), 124, "ascii");
  block.write(octal(MTIME, 12), 136, "ascii");
  block.write("        ", 148, "ascii"); // checksum field: counted as spaces, filled in below
  block.write(entry.type === "file" ? "0" : entry.type === "dir" ? "5" : "2", 156, "ascii");
  if (entry.type === "symlink") block.write(entry.target, 157, 100, "utf8");
  block.write("ustar\0", 257, "ascii");
  block.write("00", 263, "ascii");
  block.write("root", 265, "ascii");
  block.write("root", 297, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
  return block;
}

/** A ustar archive of the entries, in order, with the two zero blocks at the end. */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const data = entry.type === "file" ? entry.data : Buffer.alloc(0);
    parts.push(header(entry, data.length), data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

// ---- image layout -----------------------------------------------------------------------------------------------

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

function ociArch(): string {
  const map: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" };
  return map[process.arch] ?? process.arch;
}

function listApplets(busybox: string): string[] {
  return execFileSync(busybox, ["--list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.trim())
    .filter((name) => /^[A-Za-z0-9_.[-]+$/.test(name) && name !== "busybox");
}

/** True when an ELF64 little-endian binary asks for a program interpreter (is dynamically linked). */
function isDynamicElf(binary: Buffer): boolean {
  if (binary.length < 64 || binary.readUInt32BE(0) !== 0x7f454c46 || binary[4] !== 2 || binary[5] !== 1) return false;
  const phoff = Number(binary.readBigUInt64LE(0x20));
  const phentsize = binary.readUInt16LE(0x36);
  const phnum = binary.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 <= binary.length && binary.readUInt32LE(at) === 3 /* PT_INTERP */) return true;
  }
  return false;
}

/** The shared root file system layer. */
export async function busyboxLayer(options: BuildOptions = {}): Promise<Buffer> {
  const busyboxPath = options.busyboxPath ?? "/bin/busybox";
  const binary = await readFile(busyboxPath);
  if (isDynamicElf(binary)) throw new Error(`${busyboxPath} is dynamically linked; the test images need busybox-static`);
  const applets = options.applets ?? listApplets(busyboxPath);
  const entries: TarEntry[] = [
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", mode: 0o755, data: binary },
    ...applets.filter((a) => a !== "busybox").map((a): TarEntry => ({ type: "symlink", path: `bin/${a}`, target: "busybox" })),
    ...["dev", "etc", "home", "proc", "root", "sys", "usr", "usr/bin", "var"].map((path): TarEntry => ({ type: "dir", path })),
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "file", path: "etc/passwd", data: Buffer.from("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n") },
    { type: "file", path: "etc/group", data: Buffer.from("root:x:0:\nnogroup:x:65534:\n") },
  ];
  return writeTar(entries);
}

/** An OCI image layout archive (oci-layout, index.json, blobs/sha256/*) holding the given images. */
export async function buildImageArchive(images: ImageDefinition[], options: BuildOptions = {}): Promise<Buffer> {
  const layer = await busyboxLayer(options);
  const layerDigest = sha256(layer);
  const blobs = new Map<string, Buffer>([[layerDigest, layer]]);
  const manifests: unknown[] = [];
  const platform = { architecture: ociArch(), os: "linux" };
  for (const image of images) {
    const config = Buffer.from(
      JSON.stringify({
        created: new Date(MTIME * 1000).toISOString(),
        ...platform,
        config: {
          Env: image.env ?? [DEFAULT_PATH],
          Cmd: image.cmd,
          ...(image.entrypoint ? { Entrypoint: image.entrypoint } : {}),
          WorkingDir: image.workingDir ?? "/",
        },
        rootfs: { type: "layers", diff_ids: [layerDigest] },
        history: [{ created: new Date(MTIME * 1000).toISOString(), created_by: "testkit oci-image (static busybox)" }],
      }),
    );
    const configDigest = sha256(config);
    blobs.set(configDigest, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.manifest,
        config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
        layers: [{ mediaType: MEDIA.layer, digest: layerDigest, size: layer.length }],
      }),
    );
    const manifestDigest = sha256(manifest);
    blobs.set(manifestDigest, manifest);
    const tag = image.ref.slice(image.ref.lastIndexOf(":") + 1);
    manifests.push({
      mediaType: MEDIA.manifest,
      digest: manifestDigest,
      size: manifest.length,
      platform,
      annotations: { "io.containerd.image.name": image.ref, "org.opencontainers.image.ref.name": tag },
    });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.index, manifests }));
  const entries: TarEntry[] = [
    { type: "file", path: "oci-layout", data: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { type: "file", path: "index.json", data: index },
    { type: "dir", path: "blobs" },
    { type: "dir", path: "blobs/sha256" },
    ...[...blobs].map(([digest, data]): TarEntry => ({ type: "file", path: `blobs/sha256/${digest.slice(7)}`, data })),
  ];
  return writeTar(entries);
}

/** The images the container tests use: busybox (`sh`) and the sandbox image (sleeps forever). */
export const TEST_IMAGES: ImageDefinition[] = [
  { ref: BUSYBOX_IMAGE, cmd: ["sh"] },
  { ref: PAUSE_IMAGE, cmd: ["sleep", "2147483647"] },
];

/** Writes the archive of `images` to `file`. */
export async function writeImageArchive(file: string, images: ImageDefinition[] = TEST_IMAGES, options: BuildOptions = {}): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, await buildImageArchive(images, options));
  return file;
}

/** Imports an archive into containerd's `k8s.io` namespace (the CRI plugin's), unpacked for `snapshotter`. */
export async function importImageArchive(socketPath: string, file: string, snapshotter?: string): Promise<void> {
  const args = ["-n", "k8s.io", "--address", socketPath, "images", "import"];
  if (snapshotter) args.push("--snapshotter", snapshotter);
  args.push(file);
  await execFileP("ctr", args, { timeout: 120_000 });
}
