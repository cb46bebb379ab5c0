// task-shim: timeout, stop, process-group kill, pipe draining and keepers outliving the launcher.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Launcher,
  ensureShimBuilt,
  groupMembers,
  isAlive,
  hasExitRecord,
  readExit,
  readPid,
  streamText,
  waitUntil,
} from './shim-helpers.js';

let launcher: Launcher;
const strays: number[] = [];

beforeAll(async () => {
  ensureShimBuilt();
  launcher = await Launcher.start();
});

afterAll(async () => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await launcher?.close();
});

async function waitForOutput(taskDir: string, text: string): Promise<void> {
  await waitUntil(() => streamText(taskDir, 'stdout').includes(text), 5000, `"${text}" in stdout`);
}

describe('task-shim timeout and stop', () => {
  it('times out: SIGTERM to the group, timedOut true, group gone', async () => {
    const t0 = Date.now();
    const r = await launcher.run({ argv: ['sh', '-c', 'sleep 120 & sleep 120'], timeoutMs: 300, graceMs: 60_000 });
    const elapsed = Date.now() - t0;
    expect(r.exit).toMatchObject({ exitCode: 128 + 15, signal: 15, timedOut: true, startError: null });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    // sh died from SIGTERM; the 60 s grace period was not needed (the bound leaves room for a loaded machine).
    expect(elapsed).toBeLessThan(20_000);
    await waitUntil(() => groupMembers(r.taskPid).length === 0, 3000, 'task group to be gone');
  });

  it('times out a task that ignores SIGTERM: SIGKILL after the grace period', async () => {
    const t0 = Date.now();
    const r = await launcher.run({ argv: ['sh', '-c', 'trap "" TERM; sleep 30'], timeoutMs: 200, graceMs: 400 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    expect(r.exit).toMatchObject({ exitCode: 128 + 9, signal: 9, timedOut: true });
    await waitUntil(() => groupMembers(r.taskPid).length === 0, 3000, 'task group to be gone');
  });

  it('stops on SIGTERM to the keeper: SIGTERM, grace, then SIGKILL for a task trapping TERM', async () => {
    const s = launcher.send({ argv: ['sh', '-c', 'trap "" TERM; echo ready; sleep 30'], graceMs: 500 });
    const { keeperPid, taskPid } = await launcher.started(s.runId);
    await waitForOutput(s.taskDir, 'ready');
    const t0 = Date.now();
    process.kill(keeperPid, 'SIGTERM');
    expect((await launcher.outcome(s.runId))[0]).toBe('EXITED');
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(20_000); // well before the task's own `sleep 30` would have ended
    expect(readExit(s.taskDir)).toMatchObject({ exitCode: 137, signal: 9, timedOut: false, startError: null });
    await waitUntil(() => groupMembers(taskPid).length === 0, 3000, 'task group to be gone');
  });

  it('stops a cooperative task at once with SIGTERM', async () => {
    const s = launcher.send({ argv: ['sleep', '120'], graceMs: 60_000, timeoutMs: 90_000 });
    const { keeperPid } = await launcher.started(s.runId);
    const t0 = Date.now();
    process.kill(keeperPid, 'SIGTERM');
    expect((await launcher.outcome(s.runId))[0]).toBe('EXITED');
    expect(Date.now() - t0).toBeLessThan(20_000); // not the 60 s grace period
    expect(readExit(s.taskDir)).toMatchObject({ exitCode: 143, signal: 15, timedOut: false });
  });

  it('ignores SIGINT and SIGHUP in the keeper', async () => {
    const s = launcher.send({ argv: ['sh', '-c', 'sleep 0.5; exit 4'] });
    const { keeperPid } = await launcher.started(s.runId);
    process.kill(keeperPid, 'SIGINT');
    process.kill(keeperPid, 'SIGHUP');
    expect((await launcher.outcome(s.runId))[0]).toBe('EXITED');
    expect(readExit(s.taskDir)).toMatchObject({ exitCode: 4, signal: null });
  });

  it('reports SIGKILL sent to the group by someone else', async () => {
    const s = launcher.send({ argv: ['sh', '-c', 'echo ready; sleep 30'] });
    const { taskPid } = await launcher.started(s.runId);
    await waitForOutput(s.taskDir, 'ready');
    process.kill(-taskPid, 'SIGKILL');
    expect((await launcher.outcome(s.runId))[0]).toBe('EXITED');
    expect(readExit(s.taskDir)).toMatchObject({ exitCode: 137, signal: 9, timedOut: false });
  });
});

describe('task-shim process group and draining', () => {
  it('kills what is left of the group when the main process exits', async () => {
    const r = await launcher.run({ argv: ['sh', '-c', '(trap "" TERM; sleep 120) & echo "bg $!"; exit 0'] });
    expect(r.exit.exitCode).toBe(0);
    // The grandchild, which ignores SIGTERM and would live two minutes, is gone at once: the group was SIGKILLed.
    const bg = Number(/bg (\d+)/.exec(streamText(r.taskDir, 'stdout'))?.[1]);
    expect(bg).toBeGreaterThan(0);
    await waitUntil(() => !isAlive(bg), 10_000, 'backgrounded grandchild to be gone');
    await waitUntil(() => groupMembers(r.taskPid).length === 0, 3000, 'task group to be gone');
  });

  it('stops draining 2 s after the main process exited when an escaped process holds the pipe', async () => {
    const t0 = Date.now();
    const r = await launcher.run({
      argv: ['sh', '-c', 'setsid sh -c "echo escaped \\$\\$; exec sleep 120" & sleep 0.2; exit 6'],
    });
    const elapsed = Date.now() - t0;
    const escaped = Number(/escaped (\d+)/.exec(streamText(r.taskDir, 'stdout'))?.[1]);
    if (escaped > 0) strays.push(escaped);
    expect(escaped).toBeGreaterThan(0);
    expect(isAlive(escaped)).toBe(true);
    expect(r.exit).toMatchObject({ exitCode: 6, signal: null });
    expect(elapsed).toBeGreaterThanOrEqual(2000);
    // Draining stopped at its limit, not when the escaped process (two minutes) let go of the pipe.
    expect(elapsed).toBeLessThan(30_000);
  });
});

describe('task-shim keepers outlive the launcher', () => {
  it('keeps running when the launcher reaches EOF on stdin', async () => {
    const own = await Launcher.start();
    const s = own.send({ argv: ['sh', '-c', 'echo before; sleep 0.8; echo after; exit 7'] });
    const { keeperPid } = await own.started(s.runId);
    own.proc.stdin.end();
    expect(await own.exited).toBe(0);
    expect(isAlive(keeperPid)).toBe(true);
    // The keeper still shares the events pipe, so EXITED arrives after the launcher is gone.
    expect((await own.outcome(s.runId))[0]).toBe('EXITED');
    expect(readExit(s.taskDir)).toMatchObject({ exitCode: 7, signal: null, startError: null });
    expect(streamText(s.taskDir, 'stdout')).toBe('before\nafter\n');
    await own.close();
  });

  it('writes the true exit code after the launcher and its whole group are SIGKILLed', async () => {
    // Own process group, so that the kill below reaches the launcher's group like a killed executor would.
    const own = await Launcher.start({ detached: true });
    const s = own.send({ argv: ['sh', '-c', 'sleep 0.8; echo done; exit 5'] });
    const { keeperPid, taskPid } = await own.started(s.runId);
    process.kill(-own.proc.pid!, 'SIGKILL');
    expect(await own.exited).toBeNull();
    own.proc.stdout.destroy(); // the reader is gone: the keeper's EXITED meets EPIPE
    expect(isAlive(keeperPid)).toBe(true);
    expect(isAlive(taskPid)).toBe(true);
    await waitUntil(() => hasExitRecord(s.taskDir), 5000, 'exit record');
    expect(readExit(s.taskDir)).toMatchObject({ exitCode: 5, signal: null, timedOut: false, startError: null });
    expect(readPid(s.taskDir)).toMatchObject({ keeperPid, pid: taskPid });
    expect(readFileSync(join(s.taskDir, 'stdout.log'), 'utf8')).toContain(' stdout F done\n');
    await waitUntil(() => !isAlive(keeperPid), 3000, 'keeper to exit');
  });
});
