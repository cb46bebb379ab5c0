import type { Request, Response } from "express";
import { z } from "zod";
import type { Logger } from "@org/task-core";
import { EVENT_BACKLOG_SIZE, PublishedEvent, type EventHub } from "../manager/event-hub.js";
import { parseOrThrow, QueryWholeNumber } from "./validation.js";

export const KEEP_ALIVE_MS = 15_000;
/**
 * What one `/events` client may have written but not yet read, in the executor's memory. Further events are
 * written as the client reads; a client that does not read is dropped when a new event finds this much pending
 * (it resumes with Last-Event-ID). A single event larger than this is still sent to a client that keeps up.
 */
export const MAX_PENDING_EVENT_BYTES = 4 * 1024 * 1024;

const EventsQuery = z.object({ since: QueryWholeNumber.optional() });

function formatEvent(event: PublishedEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${event.json}\n\n`;
}

/** The resume point a client asked for: `?since=` first, then `Last-Event-ID`; garbage in the header cannot be vouched for. */
function resumePoint(request: Request): number | undefined {
  const query = parseOrThrow(EventsQuery, request.query, "query");
  if (query.since !== undefined) return query.since;
  const header = request.headers["last-event-id"];
  if (typeof header !== "string" || header.trim() === "") return undefined;
  return /^\d{1,15}$/.test(header.trim()) ? Number(header.trim()) : Number.NaN;
}

/**
 * `GET /events`: Server-Sent Events of task changes. Resumes after `?since=<id>` or `Last-Event-ID`;
 * a resume point the executor cannot vouch for (too old, from before a restart, never given out) gets a `reset`
 * event first, and the client must list the tasks again. A client that stops reading is dropped once
 * {@link MAX_PENDING_EVENT_BYTES} wait for it.
 */
export function eventsHandler(hub: EventHub, logger: Logger) {
  return (request: Request, response: Response): void => {
    const since = resumePoint(request);

    response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    if (request.method === "HEAD") {
      response.end();
      return;
    }
    let lastSent: number | undefined;
    let closed = false;
    let keepAlive: NodeJS.Timeout | undefined;
    let unsubscribe = () => {};
    /** Events not yet written: the replay of a resume, and live events behind it; written as the client reads. */
    const queue: PublishedEvent[] = [];
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      unsubscribe();
      queue.length = 0;
    };
    const drop = (why: string) => {
      logger.warn("dropping an /events client that does not read; it resumes with Last-Event-ID", {
        remote: request.socket.remoteAddress,
        why,
        pendingBytes: response.writableLength,
        lastDeliveredId: lastSent,
      });
      close();
      response.destroy();
    };
    const pump = () => {
      while (!closed && queue.length > 0 && response.writableLength <= MAX_PENDING_EVENT_BYTES) {
        const event = queue.shift()!;
        response.write(formatEvent(event));
        lastSent = event.id;
      }
    };
    const onEvent = (_event: unknown, event: PublishedEvent) => {
      if (closed) return;
      if (queue.length === 0 && response.writableLength > MAX_PENDING_EVENT_BYTES) return drop(`more than ${MAX_PENDING_EVENT_BYTES} bytes pending`);
      if (queue.length >= EVENT_BACKLOG_SIZE) return drop(`more than ${EVENT_BACKLOG_SIZE} events pending`);
      queue.push(event);
      pump();
    };
    response.on("drain", pump);
    response.write(`: connected; last event id ${hub.lastId}\n\n`);

    unsubscribe = hub.subscribe(onEvent);
    if (since !== undefined) {
      const missed = hub.eventsAfter(since);
      if ("reset" in missed) queue.push(PublishedEvent.of(hub.lastId, { type: "reset", reason: missed.reset }));
      else queue.push(...missed);
      pump();
    }
    keepAlive = setInterval(() => {
      if (response.writableLength > MAX_PENDING_EVENT_BYTES) drop(`more than ${MAX_PENDING_EVENT_BYTES} bytes pending`);
      else if (queue.length === 0) response.write(": keep-alive\n\n");
    }, KEEP_ALIVE_MS);
    request.on("close", close);
    response.on("close", close);
    response.on("error", close);
  };
}
