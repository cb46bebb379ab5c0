/**
 * The StartContainer call of a container task, made by a detached process of its own (`node start-helper.js
 * <socket> <containerId> <timeoutMs>`), so that the call completes even when the executor dies while it is in
 * flight. The CRI runtime cancels a call whose client went away, and containerd's StartContainer, cancelled after
 * runc has already started the command, kills the command and records the container as a StartError that never
 * started: the command ran (partly), but nothing says so. A call that outlives the executor never gets there.
 *
 * Only node:http2, no gRPC library and no proto loading, to keep the process small and quick. The request is
 * `StartContainerRequest { string container_id = 1; }` and the answer an empty message; what counts is the
 * grpc-status. One JSON line goes to stdout: `{"ok":true}` or `{"ok":false,"code":<grpc status>,"message":"…"}`
 * (a code is present only when the runtime answered). The executor may be gone by then; the container's CRI
 * status is the record that matters.
 */
import { connect, type IncomingHttpHeaders } from "node:http2";
import { connect as connectSocket } from "node:net";

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

/** Calls RuntimeService/StartContainer over the unix socket; never rejects. */
function callStartContainer(socketPath: string, containerId: string, timeoutMs: number): Promise<StartAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    let status: number | undefined;
    let statusMessage = "";
    const session = connect("http://localhost", { createConnection: () => connectSocket(socketPath) });
    const done = (answer: StartAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ ok: false, message: `StartContainer did not answer within ${timeoutMs} ms` }), timeoutMs);
    session.on("error", (error: Error) => done({ ok: false, message: `cannot reach the CRI runtime at ${socketPath}: ${error.message}` }));
    const take = (headers: IncomingHttpHeaders) => {
      const value = headers["grpc-status"];
      if (value === undefined) return;
      status = Number(value);
      const message = headers["grpc-message"];
      statusMessage = typeof message === "string" ? safeDecode(message) : "";
    };
    const stream = session.request({
      ":method": "POST",
      ":path": "/runtime.v1.RuntimeService/StartContainer",
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${Math.max(1, Math.floor(timeoutMs))}m`,
    });
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", () => undefined);
    stream.on("error", (error: Error) => done({ ok: false, message: `StartContainer failed: ${error.message}` }));
    stream.on("close", () => {
      if (status === undefined) done({ ok: false, message: "StartContainer ended without a gRPC status" });
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

async function main(argv: string[]): Promise<void> {
  const [socketPath, containerId, timeout] = argv;
  if (!socketPath || !containerId) {
    process.stderr.write("usage: start-helper.js <socket> <containerId> [timeoutMs]\n");
    process.exitCode = 2;
    return;
  }
  const answer = await callStartContainer(socketPath, containerId, Number(timeout) > 0 ? Number(timeout) : 30_000);
  // The executor that spawned this may be gone: a write to its closed pipe must not turn into a crash report.
  process.stdout.on("error", () => undefined);
  process.stdout.write(`${JSON.stringify(answer)}\n`);
}

void main(process.argv.slice(2));
