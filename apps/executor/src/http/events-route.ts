import type { Request, Response } from "express";
import { z } from "zod";
import type { SequencedTaskEvent } from "@org/task-core";
import type { EventHub } from "../manager/event-hub.js";
import { parseOrThrow, QueryWholeNumber } from "./validation.js";

export const KEEP_ALIVE_MS = 15_000;

const EventsQuery = z.object({ since: QueryWholeNumber.optional() });

function formatEvent(event: SequencedTaskEvent): string {
  const { id, ...payload } = event;
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(payload)}\n\n`;
}

/**
 * `GET /events`: Server-Sent Events of task changes. Resumes after `?since=<id>` or `Last-Event-ID`;
 * a client further behind than the backlog gets a `reset` event and must list the tasks again.
 */
export function eventsHandler(hub: EventHub) {
  return (request: Request, response: Response): void => {
    const query = parseOrThrow(EventsQuery, request.query, "query");
    const header = request.headers["last-event-id"];
    const since = query.since ?? (typeof header === "string" && /^\d+$/.test(header) ? Number(header) : undefined);

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
    response.write(`: connected; last event id ${hub.lastId}\n\n`);

    const unsubscribe = hub.subscribe((event) => response.write(formatEvent(event)));
    if (since !== undefined) {
      const missed = hub.eventsAfter(since);
      if (missed === undefined) {
        const reset = { id: hub.lastId, type: "reset" as const, reason: `events after ${since} are no longer kept; list the tasks again` };
        response.write(formatEvent(reset));
      } else {
        for (const event of missed) response.write(formatEvent(event));
      }
    }
    const keepAlive = setInterval(() => response.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    const close = () => {
      clearInterval(keepAlive);
      unsubscribe();
    };
    request.on("close", close);
    response.on("error", close);
  };
}
