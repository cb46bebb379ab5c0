import { z } from "zod";

/** The kinds of task an executor can run: host processes (always) and CRI containers (container mode). */
export const ExecutorModeSchema = z.enum(["process", "container"]);
export type ExecutorMode = z.infer<typeof ExecutorModeSchema>;

/**
 * The reply of `GET /health` (needs no token):
 * - `status`: `healthy`
 * - `auth`: whether requests need a bearer token
 * - `modes`: which task kinds this executor runs, `["process"]` or `["process","container"]`
 * - `sidecar`: process tasks run inside the pod's main container (sidecar mode)
 * - `warning`: present when the executor is exposed beyond loopback without authentication
 */
export const HealthReplySchema = z
  .object({
    status: z.literal("healthy"),
    auth: z.enum(["enabled", "disabled"]),
    modes: z.array(ExecutorModeSchema).min(1),
    sidecar: z.boolean(),
    warning: z.string().optional(),
  })
  .passthrough();
export type HealthReply = z.infer<typeof HealthReplySchema>;
