import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { keptJson, writeFileAtomic } from "@org/store";
import { silentLogger, type Logger, type SequencedTaskEvent, type TaskEvent, type TaskEventType } from "@org/task-core";
import { flatString } from "./flat-string.js";

/** Events kept for clients that resume with `since`; one further behind gets a `reset`. */
export const EVENT_BACKLOG_SIZE = 10_000;
/** Ids are leased in blocks, so a restart never reuses one without an fsync per event. */
export const ID_LEASE_BLOCK = 100_000;
export const LEASE_FILE = "events.lease";
const LEASE_RETRY_MS = 1000;

/**
 * An event as the backlog keeps it and `/events` sends it: its id, its type, its reason and its task's JSON — the
 * string the task itself keeps (see `ManagedTask.toWireJson`), shared rather than copied, so an event costs one
 * small object and its task is serialised once however many clients receive it. An event whose task's JSON is too
 * large to keep holds its objects instead (they share the spec with the task's record) and is serialised per use.
 */
export class PublishedEvent {
  private constructor(
    readonly id: number,
    readonly type: TaskEventType,
    /** The task's JSON (undefined for an event without a task), or the whole event when that JSON is large. */
    private readonly kept: string | TaskEvent | undefined,
    private readonly reason: string | undefined,
  ) {}

  /** `taskJson`, when given, is the JSON of `event.task` (which the task keeps): it is not serialised again. */
  static of(id: number, event: TaskEvent, taskJson?: string): PublishedEvent {
    if (event.task === undefined) return new PublishedEvent(id, event.type, undefined, event.reason);
    const small = taskJson !== undefined ? keptJson(taskJson) : keptJson(JSON.stringify(event.task));
    if (small === undefined) return new PublishedEvent(id, event.type, event, undefined);
    return new PublishedEvent(id, event.type, taskJson !== undefined ? small : flatString(small), event.reason);
  }

  /** The event without its id, as JSON: `JSON.stringify` of it, field for field. */
  get json(): string {
    if (typeof this.kept === "object") return JSON.stringify(this.kept);
    const task = this.kept === undefined ? "" : `,"task":${this.kept}`;
    const reason = this.reason === undefined ? "" : `,"reason":${JSON.stringify(this.reason)}`;
    return `{"type":${JSON.stringify(this.type)}${task}${reason}}`;
  }
}

export type EventListener = (event: SequencedTaskEvent, published: PublishedEvent) => void;

export interface EventHubOptions {
  logger?: Logger;
  /** Ids per lease (tests use small blocks). */
  leaseBlock?: number;
}

/** Why a resume point is refused: the client must list the tasks again. */
export type ResumeRefusal = { reset: string };

/**
 * The change feed: assigns increasing ids (still increasing after a restart), keeps a bounded backlog for
 * resuming clients and fans events out to listeners (SSE streams, long polls).
 *
 * `<data-dir>/events.lease` holds the highest id any run may have used. A run starts one above it and only hands
 * out ids it has leased durably before, so no id is ever given out twice. When the lease cannot be extended
 * (the disk is full, the data dir broken) the hub stops publishing rather than reuse ids and says so in the log;
 * events wait, in order, for the lease (a bounded number; the rest are dropped), the hub keeps trying, and once
 * it has a lease again it publishes the waiting events and, if some were dropped, a `reset`.
 */
export class EventHub {
  private readonly backlog: PublishedEvent[] = [];
  private readonly listeners = new Set<EventListener>();
  private leasePending: Promise<void> | undefined;
  /** Events waiting for a leased id, in order, with the JSON of their task. */
  private readonly waiting: Array<{ event: TaskEvent; taskJson: string | undefined }> = [];
  /** Events dropped for want of a leased id since the last `reset`. */
  private dropped = 0;
  private leaseFailing = false;

  private constructor(
    private readonly dataDir: string,
    /** The first id of this run: ids below it belong to earlier runs, which this one cannot vouch for. */
    private readonly firstId: number,
    private nextId: number,
    /** Ids up to and including this one are leased durably. */
    private leasedThrough: number,
    private readonly leaseBlock: number,
    private readonly logger: Logger,
  ) {}

  static async open(dataDir: string, options: EventHubOptions = {}): Promise<EventHub> {
    const leaseBlock = options.leaseBlock ?? ID_LEASE_BLOCK;
    const path = join(dataDir, LEASE_FILE);
    const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return "0";
      throw new Error(`cannot read the event id lease ${path}: ${error.message}`);
    });
    const stored = Number(text.trim());
    if (!Number.isSafeInteger(stored) || stored < 0) throw new Error(`the event id lease ${path} holds ${JSON.stringify(text.slice(0, 40))}, not an id`);
    const first = stored + 1;
    const leasedThrough = stored + leaseBlock;
    try {
      await writeFileAtomic(path, String(leasedThrough));
    } catch (error) {
      throw new Error(`cannot lease event ids in ${path}: ${(error as Error).message}`);
    }
    return new EventHub(dataDir, first, first, leasedThrough, leaseBlock, options.logger ?? silentLogger);
  }

  /** The id of the newest event, or one less than this run's first id before any. */
  get lastId(): number {
    return this.nextId - 1;
  }

  /**
   * Numbers an event and hands it to every listener. When no leased id is left the event waits for the lease
   * (up to {@link EVENT_BACKLOG_SIZE} events; beyond that they are dropped and a `reset` follows once ids can be
   * leased again); it is then undefined here. `taskJson`, when given, is the JSON of `event.task`.
   */
  publish(event: TaskEvent, taskJson?: string): SequencedTaskEvent | undefined {
    if (this.nextId + this.waiting.length > this.leasedThrough - this.leaseBlock / 2) this.extendLease();
    if (this.waiting.length === 0 && this.nextId <= this.leasedThrough) return this.deliver(event, taskJson);
    if (this.waiting.length === 0 && this.dropped === 0) {
      this.logger.error("event ids are exhausted until the lease is extended: events wait, and are dropped past a bound (clients get a reset then)", {
        lease: join(this.dataDir, LEASE_FILE),
        leasedThrough: this.leasedThrough,
      });
    }
    // A large task's JSON is made afresh per call: waiting events do not hold copies of it.
    if (this.waiting.length < EVENT_BACKLOG_SIZE) this.waiting.push({ event, taskJson: keptJson(taskJson) });
    else this.dropped++;
    return undefined;
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The events after `sinceId`, or a refusal when the hub cannot vouch that they are all it would have sent:
   * the id is from before this run (or from no run at all: beyond the newest id), or older than the backlog.
   */
  eventsAfter(sinceId: number): PublishedEvent[] | ResumeRefusal {
    if (!Number.isSafeInteger(sinceId) || sinceId > this.lastId) {
      return { reset: `event id ${sinceId} was never given out by this executor run (the newest is ${this.lastId}); list the tasks again` };
    }
    if (sinceId < this.firstId - 1) {
      return { reset: `events after ${sinceId} are from before the executor restarted; list the tasks again` };
    }
    const oldest = this.backlog[0]?.id ?? this.nextId;
    if (sinceId < oldest - 1) return { reset: `events after ${sinceId} are no longer kept; list the tasks again` };
    return this.backlog.filter((event) => event.id > sinceId);
  }

  private deliver(event: TaskEvent, taskJson?: string): SequencedTaskEvent {
    const sequenced = { id: this.nextId++, ...event };
    const published = PublishedEvent.of(sequenced.id, event, taskJson);
    this.backlog.push(published);
    if (this.backlog.length > EVENT_BACKLOG_SIZE) this.backlog.shift();
    for (const listener of this.listeners) listener(sequenced, published);
    return sequenced;
  }

  private extendLease(): void {
    if (this.leasePending) return;
    // Room for every waiting event and a reset, plus a block.
    const through = Math.max(this.leasedThrough, this.nextId + this.waiting.length) + this.leaseBlock;
    const path = join(this.dataDir, LEASE_FILE);
    this.leasePending = writeFileAtomic(path, String(through))
      .then(
        () => {
          this.leasedThrough = through;
          if (this.leaseFailing) this.logger.info("event id lease extended again", { lease: path, leasedThrough: through });
          this.leaseFailing = false;
          while (this.waiting.length > 0 && this.nextId <= this.leasedThrough) {
            const { event, taskJson } = this.waiting.shift()!;
            this.deliver(event, taskJson);
          }
          if (this.dropped > 0 && this.nextId <= this.leasedThrough) {
            const reason = `${this.dropped} events were not published while event ids could not be leased; list the tasks again`;
            this.dropped = 0;
            this.deliver({ type: "reset", reason });
          }
        },
        (error: unknown) => {
          if (!this.leaseFailing) {
            this.logger.error("cannot extend the event id lease; retrying with the next event", { lease: path, error: String(error), leasedThrough: this.leasedThrough });
          }
          this.leaseFailing = true;
          // Without further events nobody would retry, and clients would wait for the reset for ever.
          setTimeout(() => this.extendLease(), LEASE_RETRY_MS).unref();
        },
      )
      .finally(() => {
        this.leasePending = undefined;
        if (this.waiting.length > 0 && !this.leaseFailing) this.extendLease();
      });
  }
}
