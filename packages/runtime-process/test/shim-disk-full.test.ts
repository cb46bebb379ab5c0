// task-shim on a full disk: the keeper keeps retrying its exit file for as long as the disk stays full (here
// longer than the minute after which it used to give up), and records the true exit code once space returns.
import { spawnSync } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { mkdtemp, open, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Launcher, ensureShimBuilt, isAlive, readExit, sleep, streamText, waitUntil } from './shim-helpers.js';

const FULL_FOR_MS = 75_000;

let launcher: Launcher;
let root = '';
let mountPoint = '';
let mounted = false;

beforeAll(async () => {
  ensureShimBuilt();
  launcher = await Launcher.start();
  root = await mkdtemp(join(tmpdir(), 'shim-disk-full-'));
  mountPoint = join(root, 'fs');
  spawnSync('mkdir', [mountPoint]);
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { encoding: 'utf8' });
  // Mounting needs root (CAP_SYS_ADMIN), which the test environment has; in CI a refusal is a failure.
  expect(mount.status, `cannot mount a tmpfs for the full-disk test: ${mount.stderr}`).toBe(0);
  mounted = true;
});

afterAll(async () => {
  await launcher?.close();
  if (mounted) {
    await waitUntil(() => spawnSync('umount', [mountPoint]).status === 0, 20_000, 'the tmpfs to be unmounted').catch(() => {
      spawnSync('umount', ['-l', mountPoint]);
    });
  }
  if (root) await rm(root, { recursive: true, force: true });
});

/** Writes zeros until the file system refuses even one more byte. */
async function fill(path: string): Promise<void> {
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND);
  try {
    for (const size of [1 << 16, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          await handle.write(chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    await handle.close();
  }
}

describe('task-shim on a full disk', () => {
  it('keeps retrying the exit file while the disk stays full, and writes the true exit code once space returns', { timeout: FULL_FOR_MS + 60_000 }, async () => {
    const taskDir = join(mountPoint, 'task');
    spawnSync('mkdir', [taskDir]);
    const gate = join(root, 'go');
    const s = launcher.send({ taskDir, argv: ['sh', '-c', `echo ready; while [ ! -e ${gate} ]; do sleep 0.05; done; exit 7`] });
    const { keeperPid } = await launcher.started(s.runId);
    await waitUntil(() => streamText(taskDir, 'stdout').includes('ready'), 10_000, 'the task to print ready');
    const filler = join(mountPoint, 'filler');
    await fill(filler);
    await writeFile(gate, '');
    // The task ends now; its keeper cannot write the exit file and must neither give up nor exit.
    const fullSince = Date.now();
    while (Date.now() - fullSince < FULL_FOR_MS) {
      expect(isAlive(keeperPid), `the keeper gave up after ${Math.round((Date.now() - fullSince) / 1000)} s of full disk`).toBe(true);
      expect(existsSync(join(taskDir, 'exit'))).toBe(false);
      await sleep(1000);
    }
    expect(launcher.events.some((line) => line.startsWith(`EXITED ${s.runId}`))).toBe(false);
    await unlink(filler);
    // The keeper retries at least every 5 s.
    expect((await launcher.outcome(s.runId, 15_000))[0]).toBe('EXITED');
    expect(readExit(taskDir)).toMatchObject({ exitCode: 7, signal: null, timedOut: false, startError: null });
  });
});
