// The StartContainer helper against a fake CRI server (node:http2 on a unix socket): the request it sends, the
// answers it reads back, one helper process for many starts, its exit once the runtime lets go of it, and a
// helper that dies. No containerd needed.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Http2Server, type Http2Session, type ServerHttp2Stream } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Starter } from "../src/starter.js";
import { waitUntil } from "./cri-helpers.js";

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the StartContainer helper", () => {
  const dir = mkdtempSync(join(tmpdir(), "start-helper-test-"));
  const socketPath = join(dir, "cri.sock");
  let server: Http2Server;
  const sessions = new Set<Http2Session>();
  let active = 0;
  let mostActive = 0;
  const seen: { path: string; contentType: string; containerId: string }[] = [];
  const starters: Starter[] = [];
  const newStarter = (socket = socketPath) => {
    const starter = new Starter(socket, 10_000);
    starters.push(starter);
    return starter;
  };

  beforeAll(async () => {
    server = createServer();
    server.on("session", (session) => void sessions.add(session));
    server.on("stream", (stream: ServerHttp2Stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("error", () => undefined); // a client that died (the helper killed below)
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const containerId = containerIdOf(Buffer.concat(chunks));
        seen.push({ path: String(headers[":path"]), contentType: String(headers["content-type"]), containerId });
        if (containerId.startsWith("hang")) return;
        active++;
        mostActive = Math.max(mostActive, active);
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
        setTimeout(answer, containerId.startsWith("linger") ? 1_500 : containerId.startsWith("slow") ? 300 : 0);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  });
  afterAll(async () => {
    for (const starter of starters) starter.close();
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("sends RuntimeService/StartContainer with the container id and reads a success", async () => {
    const id = "a".repeat(64);
    expect(await newStarter().start(id)).toEqual({ ok: true });
    expect(seen.at(-1)).toEqual({ path: "/runtime.v1.RuntimeService/StartContainer", contentType: "application/grpc", containerId: id });
  });

  it("reads the runtime's error: its gRPC status and its message, decoded", async () => {
    expect(await newStarter().start("fail-1")).toEqual({ ok: false, code: 2, message: "failed to start containerd task: no such file (100%)" });
  });

  it("says so when there is no runtime to ask (no code: nothing answered)", async () => {
    const answer = await newStarter(join(dir, "missing.sock")).start("x");
    expect(answer.ok).toBe(false);
    expect(answer.code).toBeUndefined();
    expect(answer.message).toMatch(/ENOENT/);
  });

  it("one helper process makes all the starts of a runtime, concurrently, over one connection", async () => {
    const starter = newStarter();
    const sessionsBefore = sessions.size;
    expect(await starter.start("first")).toEqual({ ok: true });
    const pid = starter.pid;
    mostActive = 0;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => starter.start(`slow-${i}`)));
    expect(answers.every((answer) => answer.ok)).toBe(true);
    expect(await starter.start("fail-2")).toMatchObject({ ok: false, code: 2 });
    expect(await starter.start("last")).toEqual({ ok: true });
    expect(starter.pid).toBe(pid);
    expect(starter.spawned).toBe(1);
    expect(sessions.size - sessionsBefore).toBe(1);
    expect(mostActive).toBeGreaterThan(1);
  });

  it("once its input is closed, the helper finishes the starts in flight and exits", async () => {
    const starter = newStarter();
    expect(await starter.start("warm")).toEqual({ ok: true });
    const pid = starter.pid!;
    const inFlight = Promise.all([starter.start("slow-a"), starter.start("slow-b")]);
    await waitUntil(() => seen.some((s) => s.containerId === "slow-b"), 5_000, "the starts in flight");
    starter.close();
    expect(alive(pid)).toBe(true);
    expect(await inFlight).toEqual([{ ok: true }, { ok: true }]);
    await waitUntil(() => !alive(pid), 5_000, "the helper's exit");
  });

  it("an idle helper whose input is closed exits at once", async () => {
    const starter = newStarter();
    expect(await starter.start("warm")).toEqual({ ok: true });
    const pid = starter.pid!;
    starter.close();
    await waitUntil(() => !alive(pid), 2_000, "the helper's exit");
  });

  it("a helper whose runtime's process is SIGKILLed finishes the start in flight, then exits", async () => {
    const starterModule = pathToFileURL(join(import.meta.dirname, "../dist/starter.js")).href;
    const code = `
      import { Starter } from ${JSON.stringify(starterModule)};
      const starter = new Starter(${JSON.stringify(socketPath)}, 10000);
      void starter.start("lingering");
      console.log(starter.pid);
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = Number(await new Promise<string>((resolve) => child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString()))));
    await waitUntil(() => seen.some((s) => s.containerId === "lingering"), 5_000, "the start in flight");
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(alive(pid)).toBe(true);
    await waitUntil(() => !alive(pid), 5_000, "the helper's exit");
    expect(active).toBe(0);
  });

  it("a helper that dies fails its starts in flight (no code) and the next start runs a new one", async () => {
    const starter = newStarter();
    const hanging = starter.start("hang-1");
    await waitUntil(() => seen.some((s) => s.containerId === "hang-1"), 5_000, "the start in flight");
    const pid = starter.pid!;
    process.kill(pid, "SIGKILL");
    const answer = await hanging;
    expect(answer).toMatchObject({ ok: false, message: expect.stringMatching(new RegExp(`start helper \\(pid ${pid}\\) ended \\(SIGKILL\\)`)) });
    expect(answer.code).toBeUndefined();
    expect(await starter.start("after")).toEqual({ ok: true });
    expect(starter.pid).not.toBe(pid);
    expect(starter.spawned).toBe(2);
  });
});
