import { request } from "node:http";
import type { SequencedTaskEvent } from "@org/task-core";
import { parseSseBlock } from "@org/task-core";

/** A raw SSE connection that collects events and comment lines, for asserting on the wire format. */
export interface SseRecorder {
  events: SequencedTaskEvent[];
  raw: string;
  close(): void;
}

export function recordEvents(url: string, headers: Record<string, string> = {}): Promise<SseRecorder> {
  return new Promise((resolve, reject) => {
    const recorder: SseRecorder = { events: [], raw: "", close: () => req.destroy() };
    let buffer = "";
    const req = request(url, { headers: { accept: "text/event-stream", ...headers } }, (response) => {
      if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        recorder.raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const event = parseSseBlock(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event) recorder.events.push(event);
        }
        resolve(recorder);
      });
      response.on("error", () => undefined);
    });
    req.on("error", () => undefined);
    req.end();
  });
}
