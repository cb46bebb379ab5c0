import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startNetnsExecutor } from "../src/executor-pods.js";
import { createNetnsHost } from "../src/netns.js";

const run = promisify(execFile);

async function netnsNames(): Promise<string[]> {
  const { stdout } = await run("ip", ["netns", "list"]);
  return stdout.split("\n").map((line) => line.split(" ")[0]!).filter(Boolean);
}

describe("network namespaces for executor pods", () => {
  it("hands out distinct namespaces to concurrent callers and removes them", async () => {
    const hosts = await Promise.all([createNetnsHost(), createNetnsHost(), createNetnsHost()]);
    try {
      expect(new Set(hosts.map((host) => host.name)).size).toBe(3);
      expect(new Set(hosts.map((host) => host.address)).size).toBe(3);
      for (const host of hosts) {
        expect(host.address).toBe(`10.213.${host.index}.2`);
        const { stdout } = await run(host.exec[0]!, [...host.exec.slice(1), "ip", "-4", "-o", "addr", "show", "dev", "eth0"]);
        expect(stdout).toContain(`${host.address}/24`);
      }
      expect(await netnsNames()).toEqual(expect.arrayContaining(hosts.map((host) => host.name)));
    } finally {
      await Promise.all(hosts.map((host) => host.remove()));
    }
    const left = await netnsNames();
    for (const host of hosts) expect(left).not.toContain(host.name);
  });

  it("refuses an index a live process holds, and takes over one whose owner died", async () => {
    const held = await createNetnsHost(247);
    try {
      await expect(createNetnsHost(247)).rejects.toThrow(/in use/);
    } finally {
      await held.remove();
    }
    // A namespace left behind by a process that no longer exists.
    await run("ip", ["netns", "add", "tek8s-248"]);
    const claims = join(tmpdir(), "task-executor-netns");
    mkdirSync(claims, { recursive: true });
    const dead = await run("sh", ["-c", "echo $$"]).then((result) => Number(result.stdout.trim()));
    writeFileSync(join(claims, "tek8s-248"), String(dead));
    const taken = await createNetnsHost(248);
    try {
      expect(taken.name).toBe("tek8s-248");
    } finally {
      await taken.remove();
    }
    expect(await netnsNames()).not.toContain("tek8s-248");
  });

  it("runs an executor that answers on the namespace's address from the host", async () => {
    const running = await startNetnsExecutor({ port: 7777 });
    try {
      expect(running.executor.url).toBe(`http://${running.address}:7777`);
      const reply = await fetch(`${running.executor.url}/health`);
      expect(reply.status).toBe(200);
      expect(((await reply.json()) as { status: string }).status).toBe("healthy");
    } finally {
      await running.close();
    }
    expect(await netnsNames()).not.toContain(running.netns.name);
  });
});
