import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { namespaceSupport, startExecutor, startMainContainer, waitFor, type ExecutorProcess, type MainContainerFixture } from "@org/testkit";
import { raw } from "./helpers.js";

const unsupported = await namespaceSupport();
if (unsupported) console.warn(`\n*** /ready SIDECAR TEST SKIPPED: this machine cannot create namespaces: ${unsupported} ***\n`);

/** Sidecar mode: /ready looks for the main container; without it tasks cannot start, so the executor is unready. */
describe.skipIf(unsupported)("GET /ready in sidecar mode", () => {
  const name = `ready-main-${process.pid}`;
  let main: MainContainerFixture | undefined;
  let executor: ExecutorProcess;
  beforeAll(async () => {
    executor = await startExecutor({ args: ["--enable-sidecar-mode=true", `--main-container-name=${name}`] });
  });
  afterAll(async () => {
    await executor?.kill();
    await main?.stop();
  });

  it("is 503 naming the main container until it appears, 200 while it runs, 503 once it is gone", async () => {
    const before = await raw(executor, "GET", "/ready");
    expect(before.status).toBe(503);
    expect(before.json).toMatchObject({ reasons: [{ check: "mainContainer", message: expect.stringContaining(`SANDBOX_MAIN_CONTAINER=${name}`) }] });

    main = await startMainContainer({ name });
    const ready = await waitFor(async () => {
      const reply = await raw(executor, "GET", "/ready");
      return reply.status === 200 ? reply : undefined;
    }, 5000);
    expect(ready.json).toMatchObject({ status: "ready", checks: [{ check: "dataDir", ok: true }, { check: "mainContainer", ok: true }] });

    await main.stop();
    main = undefined;
    await waitFor(async () => (await raw(executor, "GET", "/ready")).status === 503, 5000);
  });
});
