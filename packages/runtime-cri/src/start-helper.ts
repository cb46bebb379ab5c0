/**
 * The StartContainer calls of one container runtime, made by a detached process of its own (`node start-helper.js
 * <socket> <timeoutMs>`), so that a call completes even when the executor dies while it is in flight. The CRI
 * runtime cancels a call whose client went away, and containerd's StartContainer, cancelled after runc has
 * already started the command, kills the command and records the container as a StartError that never started:
 * the command ran (partly), but nothing says so. A call that outlives the executor never gets there.
 *
 * One process per runtime instance, spawned on its first start (a node process per start cost about 0.35 s and
 * 45 MiB). Protocol, JSON lines: stdin `{"id":1,"containerId":"…"}`, stdout `{"id":1,"ok":true}` or
 * `{"id":1,"ok":false,"error":{"code":2,"message":"…"}}` (a code only when the runtime answered). Requests run
 * concurrently over one HTTP/2 connection. Stdin's end means the executor is gone (or closed the runtime): the
 * calls in flight are finished, then the process exits; it never outlives them by more than their timeout.
 *
 * Only node:http2, no gRPC library and no proto loading, to keep the process small and quick. The request is
 * `StartContainerRequest { string container_id = 1; }` and the answer an empty message; what counts is the
 * grpc-status. The executor may be gone when an answer is written; the container's CRI status is the record that
 * matters.
 */
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { connect as connectSocket } from "node:net";
import { createInterface } from "node:readline";

interface StartAnswer {
  ok: boolean;
  /** The gRPC status the runtime answered with; absent when it gave no answer (unreachable, timed out). */
  code?: number;
  message?: string;
}

/** The gRPC frame of a StartContainerRequest. */
function startContainerFrame(containerId: string): Buffer {
  const id = Buffer.from(containerId, "utf8");
  const length: number[] = [];
  let n = id.length;
  while (n >= 0x80) {
    length.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  length.push(n);
  const message = Buffer.concat([Buffer.from([0x0a, ...length]), id]);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

let session: ClientHttp2Session | undefined;
let sessionError = "";

/** The one connection to the CRI runtime, made again after it failed or was closed. */
function criSession(socketPath: string): ClientHttp2Session {
  if (session && !session.closed && !session.destroyed) return session;
  const fresh = connect("http://localhost", { createConnection: () => connectSocket(socketPath) });
  sessionError = "";
  const forget = () => {
    if (session === fresh) session = undefined;
  };
  fresh.on("error", (error: Error) => {
    sessionError = `cannot reach the CRI runtime at ${socketPath}: ${error.message}`;
    forget();
  });
  fresh.on("goaway", forget);
  fresh.on("close", forget);
  session = fresh;
  return fresh;
}

/** Calls RuntimeService/StartContainer over the shared connection; never rejects. */
function callStartContainer(socketPath: string, containerId: string, timeoutMs: number): Promise<StartAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    let status: number | undefined;
    let statusMessage = "";
    const done = (answer: StartAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      resolve(answer);
    };
    const timer = setTimeout(() => done({ ok: false, message: `StartContainer did not answer within ${timeoutMs} ms` }), timeoutMs);
    const take = (headers: IncomingHttpHeaders) => {
      const value = headers["grpc-status"];
      if (value === undefined) return;
      status = Number(value);
      const message = headers["grpc-message"];
      statusMessage = typeof message === "string" ? safeDecode(message) : "";
    };
    const stream = criSession(socketPath).request({
      ":method": "POST",
      ":path": "/runtime.v1.RuntimeService/StartContainer",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${Math.max(1, Math.floor(timeoutMs))}m`,
    });
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", () => undefined);
    stream.on("error", (error: Error) => done({ ok: false, message: sessionError || `StartContainer failed: ${error.message}` }));
    stream.on("close", () => {
      if (status === undefined) done({ ok: false, message: sessionError || "StartContainer ended without a gRPC status" });
      else if (status === 0) done({ ok: true });
      else done({ ok: false, code: status, message: statusMessage || `gRPC status ${status}` });
    });
    stream.end(startContainerFrame(containerId));
  });
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function main(argv: string[]): void {
  const [socketPath, timeout] = argv;
  if (!socketPath) {
    process.stderr.write("usage: start-helper.js <socket> [timeoutMs]\n");
    process.exitCode = 2;
    return;
  }
  const timeoutMs = Number(timeout) > 0 ? Number(timeout) : 30_000;
  const parent = process.ppid;
  let inFlight = 0;
  let parentGone = false;
  // The executor may be gone: a write to its closed pipe must not turn into a crash report.
  process.stdout.on("error", () => undefined);
  const exitIfDone = () => {
    if (parentGone && inFlight === 0) process.exit(0);
  };
  const leave = () => {
    if (parentGone) return;
    parentGone = true;
    // Every call in flight ends within its timeout; this only guards against a bug leaving the process behind.
    setTimeout(() => process.exit(1), timeoutMs + 5_000).unref();
    exitIfDone();
  };
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    let request: { id?: unknown; containerId?: unknown };
    try {
      request = JSON.parse(line) as typeof request;
    } catch {
      return;
    }
    const { id, containerId } = request;
    if (typeof containerId !== "string") return;
    inFlight++;
    void callStartContainer(socketPath, containerId, timeoutMs).then((answer) => {
      const reply = answer.ok ? { id, ok: true } : { id, ok: false, error: { code: answer.code, message: answer.message } };
      process.stdout.write(`${JSON.stringify(reply)}\n`);
      inFlight--;
      exitIfDone();
    });
  });
  // A line cut off by the executor's death is dropped: that container is still only created, which recovery starts.
  lines.on("close", leave);
  // Belt and braces: a parent gone while stdin stays open (its pipe inherited by some other process).
  setInterval(() => {
    if (process.ppid !== parent) leave();
  }, 1_000).unref();
}

main(process.argv.slice(2));
