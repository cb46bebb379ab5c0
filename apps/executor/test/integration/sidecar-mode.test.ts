import { readlink } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXECUTOR_VERSION } from "../../src/version.js";
import { namespaceSupport, startExecutor, startMainContainer, waitFor, type ExecutorProcess, type MainContainerFixture } from "@org/testkit";
import { pidAlive, shTask, waitTerminated } from "./helpers.js";

const unsupported = await namespaceSupport();
if (unsupported) console.warn(`\n*** SIDECAR MODE TESTS SKIPPED: this machine cannot create namespaces: ${unsupported} ***\n`);

const NAMESPACES = ["mnt", "uts", "ipc", "net", "pid"] as const;

/** Parses `ls -l /proc/self/ns` into kind → id (`mnt:[4026…]`). */
function namespaceIds(listing: string): Record<string, string> {
  const ids: Record<string, string> = {};
  for (const match of listing.matchAll(/ (\w+) -> (\w+:\[\d+\])/g)) ids[match[1]!] = match[2]!;
  return ids;
}

describe.skipIf(unsupported)("sidecar mode through the real executor", () => {
  const name = `main-${process.pid}`;
  let main: MainContainerFixture;
  let executor: ExecutorProcess;
  beforeAll(async () => {
    main = await startMainContainer({ name, user: { uid: 1234, gid: 2345 } });
    // EXECUTOR_ONLY is in the executor's environment and must not reach tasks inside the main container.
    executor = await startExecutor({
      args: ["--enable-sidecar-mode=true", `--main-container-name=${name}`, "--stop-grace-period=2s"],
      env: { EXECUTOR_ONLY: "leaked" },
    });
  });
  afterAll(async () => {
    await executor?.kill();
    await main?.stop();
  });

  it("/health reports sidecar mode", async () => {
    expect(await executor.client.health()).toEqual({ status: "healthy", auth: "disabled", modes: ["process"], sidecar: true, version: EXECUTOR_VERSION });
  });

  it("the guide's example: ls -l /proc/self/ns lists the main container's namespaces, not the executor's", async () => {
    await executor.client.createTask({ name: "sidecar-namespace-check", spec: { process: { command: ["ls", "-l", "/proc/self/ns"] } } });
    expect(await waitTerminated(executor, "sidecar-namespace-check")).toMatchObject({ exitCode: 0, reason: "Succeeded" });
    const ids = namespaceIds((await executor.client.logs("sidecar-namespace-check")).toString());
    for (const kind of NAMESPACES) {
      expect(ids[kind], kind).toBe(main.nsIds[kind]);
      expect(ids[kind], kind).not.toBe(await readlink(`/proc/${executor.child.pid}/ns/${kind}`));
    }
  });

  it("sees the main container's hostname, marker file, environment, user and only its PIDs", async () => {
    const script = 'hostname; cat "$MARKER_FILE"; echo "$MAIN_MARKER"; id -u; id -g; ls /proc | grep -E "^[0-9]+$" | sort -n | head -1; echo "$EXECUTOR_ONLY"';
    await executor.client.createTask(shTask("look-around", script, { env: [{ name: "MARKER_FILE", value: main.markerFile }] }));
    expect(await waitTerminated(executor, "look-around")).toMatchObject({ exitCode: 0 });
    const lines = (await executor.client.logs("look-around")).toString().split("\n");
    expect(lines.slice(0, 7)).toEqual([main.hostname, main.marker, main.marker, "1234", "2345", "1", ""]);
  });

  it("stop reaches the sleeping process inside the namespace", async () => {
    await executor.client.createTask(shTask("sleeper", "sleep 300"));
    const hostPid = await waitFor(async () => {
      const { execFileSync } = await import("node:child_process");
      const out = execFileSync("pgrep", ["-f", "^sleep 300$"], { encoding: "utf8" }).trim().split("\n").map(Number);
      const inside = [];
      for (const pid of out) if ((await readlink(`/proc/${pid}/ns/pid`).catch(() => "")) === main.nsIds.pid) inside.push(pid);
      return inside[0];
    });
    await executor.client.stopTask("sleeper");
    expect(await waitTerminated(executor, "sleeper")).toMatchObject({ reason: "Cancelled", exitCode: 143 });
    expect(pidAlive(hostPid)).toBe(false);
  });

  it("times out inside the main container", async () => {
    await executor.client.createTask(shTask("slow", "sleep 30", { timeoutSeconds: 1 }));
    expect(await waitTerminated(executor, "slow")).toMatchObject({ reason: "TaskTimeout", exitCode: 137 });
  });

  it("recovers a running sidecar task after the executor is killed", async () => {
    await executor.client.createTask(shTask("across", "sleep 2; hostname; exit 6"));
    await waitFor(async () => "running" in (await executor.client.getTask("across")).status.state);
    await executor.kill();
    executor = await executor.restart();
    expect(await waitTerminated(executor, "across", 30_000)).toMatchObject({ exitCode: 6, reason: "Failed" });
    expect((await executor.client.logs("across")).toString()).toBe(`${main.hostname}\n`);
  });
});

describe.skipIf(unsupported)("sidecar mode without a main container", () => {
  let executor: ExecutorProcess;
  afterAll(async () => {
    await executor?.kill();
  });

  it("starts with a warning and ends tasks MainContainerNotFound with exit code 1 and no startedAt", async () => {
    executor = await startExecutor({ args: ["--enable-sidecar-mode=true", `--main-container-name=absent-${process.pid}`] });
    expect(executor.output.join("\n")).toMatch(/no main container yet/);
    await executor.client.createTask({ name: "orphan", spec: { process: { command: ["true"] } } });
    const state = await waitTerminated(executor, "orphan");
    expect(state).toMatchObject({ reason: "MainContainerNotFound", exitCode: 1 });
    expect(state.startedAt).toBeUndefined();
    expect(state.message).toContain(`SANDBOX_MAIN_CONTAINER=absent-${process.pid}`);
    expect(state.message).toContain("shareProcessNamespace");
    expect((await executor.client.health()).status).toBe("healthy");
  });
});

describe("sidecar mode start-up check", () => {
  it("fails with a message naming what is missing when nsenter cannot be found", async () => {
    const error = await startExecutor({ args: ["--enable-sidecar-mode=true"], env: { PATH: "/nonexistent" } }).catch((e: Error) => e);
    expect(String(error)).toMatch(/--enable-sidecar-mode=true: .*nsenter/);
  });
});
