import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "@org/store";
import type { SequencedTaskEvent, TaskEvent } from "@org/task-core";

/** Events kept for clients that resume with `since`; one further behind gets a `reset`. */
export const EVENT_BACKLOG_SIZE = 10_000;
/** Ids are leased in blocks, so a restart never reuses one without an fsync per event. */
const ID_LEASE_BLOCK = 100_000;
const LEASE_FILE = "events.lease";

export type EventListener = (event: SequencedTaskEvent) => void;

/**
 * The change feed: assigns increasing ids (still increasing after a restart), keeps a bounded backlog for
 * resuming clients and fans events out to listeners (SSE streams, long polls).
 */
export class EventHub {
  private readonly backlog: SequencedTaskEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private leasePending: Promise<void> | undefined;

  private constructor(
    private readonly dataDir: string,
    private nextId: number,
    private leasedUntil: number,
  ) {}

  static async open(dataDir: string): Promise<EventHub> {
    const stored = await readFile(join(dataDir, LEASE_FILE), "utf8").then(Number, () => 0);
    const first = Number.isSafeInteger(stored) && stored > 0 ? stored : 1;
    const leasedUntil = first + ID_LEASE_BLOCK;
    await writeFileAtomic(join(dataDir, LEASE_FILE), String(leasedUntil));
    return new EventHub(dataDir, first, leasedUntil);
  }

  /** The id of the newest event, or one less than this run's first id before any. */
  get lastId(): number {
    return this.nextId - 1;
  }

  publish(event: TaskEvent): SequencedTaskEvent {
    const sequenced = { id: this.nextId++, ...event };
    if (this.nextId > this.leasedUntil - ID_LEASE_BLOCK / 2) this.extendLease();
    this.backlog.push(sequenced);
    if (this.backlog.length > EVENT_BACKLOG_SIZE) this.backlog.shift();
    for (const listener of this.listeners) listener(sequenced);
    return sequenced;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The events after `sinceId`, or undefined when some of them are no longer known (the client must re-list).
   */
  eventsAfter(sinceId: number): SequencedTaskEvent[] | undefined {
    if (sinceId >= this.lastId) return [];
    const oldest = this.backlog[0]?.id ?? this.nextId;
    if (sinceId < oldest - 1) return undefined;
    return this.backlog.filter((event) => event.id > sinceId);
  }

  private extendLease(): void {
    if (this.leasePending) return;
    const until = this.leasedUntil + ID_LEASE_BLOCK;
    this.leasePending = writeFileAtomic(join(this.dataDir, LEASE_FILE), String(until))
      .then(() => {
        this.leasedUntil = until;
      })
      .catch(() => undefined)
      .finally(() => {
        this.leasePending = undefined;
      });
  }
}
