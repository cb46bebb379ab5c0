// The detached StartContainer helper against a fake CRI server (node:http2 on a unix socket): the request it
// sends, the answers it reads back, and how many run at once. No containerd needed.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Http2Server, type ServerHttp2Stream } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_HELPERS, startDetached } from "../src/starter.js";

/** The container id of a StartContainerRequest frame (field 1, a string of fewer than 16384 bytes). */
function containerIdOf(frame: Buffer): string {
  const message = frame.subarray(5, 5 + frame.readUInt32BE(1));
  expect(message[0]).toBe(0x0a);
  let length = 0;
  let shift = 0;
  let at = 1;
  for (;;) {
    const byte = message[at++]!;
    length |= (byte & 0x7f) << shift;
    shift += 7;
    if (byte < 0x80) break;
  }
  return message.subarray(at, at + length).toString("utf8");
}

describe("the StartContainer helper", () => {
  const dir = mkdtempSync(join(tmpdir(), "start-helper-test-"));
  const socketPath = join(dir, "cri.sock");
  let server: Http2Server;
  let active = 0;
  let mostActive = 0;
  const seen: { path: string; contentType: string; containerId: string }[] = [];

  beforeAll(async () => {
    server = createServer();
    server.on("stream", (stream: ServerHttp2Stream, headers) => {
      const chunks: Buffer[] = [];
      active++;
      mostActive = Math.max(mostActive, active);
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const containerId = containerIdOf(Buffer.concat(chunks));
        seen.push({ path: String(headers[":path"]), contentType: String(headers["content-type"]), containerId });
        const answer = () => {
          active--;
          if (containerId.startsWith("fail")) {
            // A trailers-only answer, as grpc-go sends for an error.
            stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "2", "grpc-message": encodeURIComponent("failed to start containerd task: no such file (100%)") }, { endStream: true });
            return;
          }
          stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
          stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
          stream.end(Buffer.alloc(5));
        };
        setTimeout(answer, containerId.startsWith("slow") ? 300 : 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends RuntimeService/StartContainer with the container id and reads a success", async () => {
    const id = "a".repeat(64);
    expect(await startDetached(socketPath, id, 10_000)).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ path: "/runtime.v1.RuntimeService/StartContainer", contentType: "application/grpc", containerId: id });
  });

  it("reads the runtime's error: its gRPC status and its message, decoded", async () => {
    expect(await startDetached(socketPath, "fail-1", 10_000)).toEqual({ ok: false, code: 2, message: "failed to start containerd task: no such file (100%)" });
  });

  it("says so when there is no runtime to ask (no code: nothing answered)", async () => {
    const answer = await startDetached(join(dir, "missing.sock"), "x", 10_000);
    expect(answer.ok).toBe(false);
    expect(answer.code).toBeUndefined();
    expect(answer.message).toMatch(/ENOENT/);
  });

  it(`runs at most ${MAX_HELPERS} helpers at once; the others wait their turn`, async () => {
    mostActive = 0;
    const answers = await Promise.all(Array.from({ length: MAX_HELPERS + 4 }, (_, i) => startDetached(socketPath, `slow-${i}`, 10_000)));
    expect(answers.every((answer) => answer.ok)).toBe(true);
    expect(mostActive).toBeLessThanOrEqual(MAX_HELPERS);
    expect(mostActive).toBeGreaterThan(1);
  });
});
