import { z } from "zod";
import { TaskSchema } from "./task.js";

export const TaskEventTypes = ["created", "started", "terminated", "deleted", "reset"] as const;
export type TaskEventType = (typeof TaskEventTypes)[number];

/**
 * One change of one task, as `GET /events` streams it. `reset` tells a client that fell too far behind
 * to list all tasks again; it carries no task.
 */
export const TaskEventSchema = z.object({
  type: z.enum(TaskEventTypes),
  task: TaskSchema.optional(),
  /** Why a task was deleted (`Deleted`, `Synced`, `Retention:count`, ...) or why a reset happened. */
  reason: z.string().optional(),
}).meta({ id: "TaskEvent" });
export type TaskEvent = z.infer<typeof TaskEventSchema>;

/** An event with its stream id, which increases for the lifetime of the data dir. */
export interface SequencedTaskEvent extends TaskEvent {
  id: number;
}
