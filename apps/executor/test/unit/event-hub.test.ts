import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import type { Logger, SequencedTaskEvent } from "@org/task-core";
import { EVENT_BACKLOG_SIZE, EventHub, LEASE_FILE, PublishedEvent } from "../../src/manager/event-hub.js";

function recordingLogger() {
  const lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const at = (level: string) => (message: string, meta?: Record<string, unknown>) => lines.push({ level, message, ...(meta ? { meta } : {}) });
  const logger: Logger = { error: at("error"), warn: at("warn"), info: at("info"), debug: at("debug") };
  return { logger, lines };
}

const created = { type: "created" as const };

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("EventHub", () => {
  it("numbers events from 1 and keeps increasing across reopenings of the data dir", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hub-"));
    const hub = await EventHub.open(dir, { leaseBlock: 10 });
    const ids: number[] = [];
    hub.subscribe((event) => ids.push(event.id));
    // A burst beyond the lease waits for its extension, in order.
    for (let i = 0; i < 25; i++) hub.publish(created);
    await until(() => ids.length === 25);
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    const again = await EventHub.open(dir, { leaseBlock: 10 });
    expect(again.publish(created)!.id).toBeGreaterThan(25);
  });

  it("stops publishing rather than reuse ids when the lease cannot be extended, logs it, and resets clients once it can", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hub-"));
    const { logger, lines } = recordingLogger();
    const hub = await EventHub.open(dir, { leaseBlock: 10, logger });
    const leased = Number(await readFile(join(dir, LEASE_FILE), "utf8"));
    expect(leased).toBe(10);
    // The lease file cannot be replaced any more: a directory (not empty) stands where it was.
    await rename(join(dir, LEASE_FILE), join(dir, "lease-saved"));
    await mkdir(join(dir, LEASE_FILE));
    await writeFile(join(dir, LEASE_FILE, "occupied"), "");
    const seen: SequencedTaskEvent[] = [];
    hub.subscribe((event) => seen.push(event));
    const published: number[] = [];
    const burst = leased + EVENT_BACKLOG_SIZE + 20;
    for (let i = 0; i < burst; i++) {
      const event = hub.publish(created);
      if (event) published.push(event.id);
      if (i % 1000 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await until(() => lines.some((line) => /cannot extend the event id lease/.test(line.message)));
    expect(published).toEqual(Array.from({ length: leased }, (_, i) => i + 1));
    expect(seen.map((event) => event.id)).toEqual(published);
    expect(lines.some((line) => line.level === "error" && /event ids are exhausted/.test(line.message))).toBe(true);

    // A restart now starts above every id ever given out.
    const reopenedDir = await mkdtemp(join(tmpdir(), "hub-"));
    await writeFile(join(reopenedDir, LEASE_FILE), await readFile(join(dir, "lease-saved"), "utf8"));
    const afterRestart = await EventHub.open(reopenedDir, { leaseBlock: 10 });
    expect(afterRestart.publish(created)!.id).toBeGreaterThan(Math.max(...published));

    // Once the lease can be written again (retried without further events), the waiting events go out in
    // order and, because some had to be dropped, a reset.
    await rm(join(dir, LEASE_FILE), { recursive: true });
    await rename(join(dir, "lease-saved"), join(dir, LEASE_FILE));
    await until(() => seen.some((event) => event.type === "reset"));
    expect(seen.map((event) => event.id)).toEqual(Array.from({ length: leased + EVENT_BACKLOG_SIZE + 1 }, (_, i) => i + 1));
    const reset = seen.at(-1)!;
    expect(reset.type).toBe("reset");
    expect(reset.reason).toMatch(/^20 events were not published/);
    expect(hub.publish(created)!.id).toBe(reset.id + 1);
    expect(Number(await readFile(join(dir, LEASE_FILE), "utf8"))).toBeGreaterThan(reset.id);
  });

  it("answers a resume point only when it can vouch for it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "hub-"));
    const first = await EventHub.open(dir);
    for (let i = 0; i < 3; i++) first.publish(created);
    const hub = await EventHub.open(dir);
    const start = hub.lastId;
    expect(hub.eventsAfter(start)).toEqual([]);
    for (let i = 0; i < 5; i++) hub.publish(created);
    expect(hub.eventsAfter(start + 3)).toMatchObject([{ id: start + 4 }, { id: start + 5 }]);
    expect(hub.eventsAfter(hub.lastId)).toEqual([]);
    expect(hub.eventsAfter(hub.lastId + 1)).toHaveProperty("reset");
    expect(hub.eventsAfter(10 ** 12)).toHaveProperty("reset");
    expect(hub.eventsAfter(Number.NaN)).toHaveProperty("reset");
    // Ids of the earlier run: this run does not know what the client missed before the restart.
    expect(hub.eventsAfter(2)).toHaveProperty("reset");
    expect(hub.eventsAfter(0)).toHaveProperty("reset");
  });

  it("serialises an event once, the same as JSON.stringify, from the task's cached JSON; a large one per use", async () => {
    const task = { name: "a", spec: { process: { command: ["echo", "\u2028 \"quoted\" \ud800"] } }, status: { state: { waiting: { reason: "Initialized" } } }, creationTimestamp: "2026-01-01T00:00:00.000Z" };
    const events = [{ type: "created" as const, task }, { type: "deleted" as const, task, reason: "Retention:count" }, { type: "reset" as const, reason: "list again" }];
    for (const event of events) {
      for (const published of [PublishedEvent.of(7, event, event.task ? JSON.stringify(event.task) : undefined), PublishedEvent.of(7, event)]) {
        expect({ id: published.id, type: published.type, json: published.json }).toEqual({ id: 7, type: event.type, json: JSON.stringify(event) });
      }
    }
    const hub = await EventHub.open(await mkdtemp(join(tmpdir(), "hub-")));
    const published: PublishedEvent[] = [];
    hub.subscribe((event, once) => {
      expect(once.id).toBe(event.id);
      published.push(once);
    });
    const taskJson = JSON.stringify(task);
    const stringify = vi.spyOn(JSON, "stringify");
    hub.publish(events[1]!, taskJson);
    expect(stringify).not.toHaveBeenCalled();
    expect(published[0]!.json).toBe(JSON.stringify(events[1]));
    expect(hub.eventsAfter(hub.lastId - 1)).toEqual(published);

    const big = { ...task, spec: { process: { command: ["echo", "x".repeat(100_000)] } } };
    const bigJson = JSON.stringify(big);
    stringify.mockClear();
    hub.publish({ type: "created", task: big }, bigJson);
    expect(stringify).not.toHaveBeenCalled();
    stringify.mockRestore();
    expect(published[1]!.json).toBe(JSON.stringify({ type: "created", task: big }));
  });

  it("keeps the newest events only; a client further behind is reset", async () => {
    const hub = await EventHub.open(await mkdtemp(join(tmpdir(), "hub-")));
    for (let i = 0; i < EVENT_BACKLOG_SIZE + 5; i++) hub.publish(created);
    expect(hub.eventsAfter(4)).toHaveProperty("reset");
    const kept = hub.eventsAfter(5);
    expect(Array.isArray(kept) && kept.length).toBe(EVENT_BACKLOG_SIZE);
  });
});
