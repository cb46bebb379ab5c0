import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { announceSkip, containerdSkipReason, startContainerd, startExecutor, waitFor, type ContainerdEnv, type ExecutorProcess } from "@org/testkit";
import { raw } from "./helpers.js";
import { validateReply } from "./openapi-validator.js";

const skip = containerdSkipReason();
if (skip) announceSkip(skip, "executor /ready container-mode test");

/** Container mode: /ready asks the CRI runtime for its Version; a stopped containerd makes the executor unready. */
describe.skipIf(skip)("GET /ready in container mode", () => {
  let containerd: ContainerdEnv | undefined;
  let executor: ExecutorProcess;
  beforeAll(async () => {
    containerd = await startContainerd();
    executor = await startExecutor({ args: ["--enable-container-mode=true", `--cri-socket=${containerd.socketPath}`] });
  }, 300_000);
  afterAll(async () => {
    await executor?.kill();
    await containerd?.stop();
  });

  it("is 200 while containerd answers, 503 naming the CRI check once it is stopped", async () => {
    const ready = await raw(executor, "GET", "/ready");
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ status: "ready", checks: [{ check: "dataDir", ok: true }, { check: "cri", ok: true }] });

    await containerd!.stop();
    containerd = undefined;
    const unready = await waitFor(async () => {
      const reply = await raw(executor, "GET", "/ready");
      return reply.status === 503 ? reply : undefined;
    }, 10_000);
    expect(unready.json).toMatchObject({
      status: "unready",
      checks: [{ check: "dataDir", ok: true }, { check: "cri", ok: false }],
      reasons: [{ check: "cri", message: expect.stringContaining("did not answer a Version request") }],
    });
    validateReply("GET", "/ready", 503, unready.json);
  });
});
