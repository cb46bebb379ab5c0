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
 * - `version`: the executor's version
 * - `warning`: present when the executor is exposed beyond loopback without authentication
 *
 * `modes`, `sidecar` and `version` are optional here because earlier executors do not send them: a reply without
 * `modes` comes from an executor that runs host processes only, one without `sidecar` from one without sidecar mode
 * (see {@link executorModes}). This executor always sends all three ({@link ExecutorHealthReply}).
 */
export const HealthReplySchema = z
  .object({
    status: z.literal("healthy"),
    auth: z.enum(["enabled", "disabled"]),
    modes: z.array(ExecutorModeSchema).min(1).optional(),
    sidecar: z.boolean().optional(),
    version: z.string().optional(),
    warning: z.string().optional(),
  })
  .passthrough()
  .meta({ id: "HealthReply" });
export type HealthReply = z.infer<typeof HealthReplySchema>;

/** The reply this executor sends: always with `modes`, `sidecar` and `version`. */
export type ExecutorHealthReply = HealthReply & { modes: ExecutorMode[]; sidecar: boolean; version: string };

/** The modes an executor runs, by its health reply: `["process"]` for an earlier one that reports none. */
export function executorModes(health: HealthReply): ExecutorMode[] {
  return health.modes ?? ["process"];
}
