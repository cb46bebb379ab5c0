// task-shim when the disk is full or the exit record cannot be written: the exit record needs no new space (it
// goes into the block the pid file already holds), and a write that fails all the same is retried for as long as
// it fails (here longer than the minute after which keepers used to give up), then the true exit code is recorded.
import { spawnSync } from 'node:child_process';
import { constants, statSync } from 'node:fs';
import { mkdtemp, open, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Launcher, ensureShimBuilt, hasExitRecord, isAlive, readExit, sleep, streamText, waitUntil } from './shim-helpers.js';

const FAILING_FOR_MS = 75_000;

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

describe('task-shim when its exit record cannot be written at once', () => {
  it('records the true exit code at once when the task ends on a full disk', { timeout: 60_000 }, async () => {
    const taskDir = join(mountPoint, 'task');
    spawnSync('mkdir', [taskDir]);
    const gate = join(root, 'go');
    const s = launcher.send({ taskDir, argv: ['sh', '-c', `echo ready; while [ ! -e ${gate} ]; do sleep 0.05; done; exit 7`] });
    await launcher.started(s.runId);
    await waitUntil(() => streamText(taskDir, 'stdout').includes('ready'), 10_000, 'the task to print ready');
    const filler = join(mountPoint, 'filler');
    await fill(filler);
    try {
      await writeFile(gate, '');
      expect((await launcher.outcome(s.runId, 10_000))[0]).toBe('EXITED');
      expect(readExit(taskDir)).toMatchObject({ exitCode: 7, signal: null, timedOut: false, startError: null });
    } finally {
      await unlink(filler);
    }
  });

  it('keeps retrying the exit record while its write fails, and writes the true exit code once it succeeds', { timeout: FAILING_FOR_MS + 60_000 }, async () => {
    const taskDir = join(root, 'limited');
    spawnSync('mkdir', [taskDir]);
    const gate = join(root, 'go-limited');
    const s = launcher.send({ taskDir, argv: ['sh', '-c', `echo ready; while [ ! -e ${gate} ]; do sleep 0.05; done; exit 9`] });
    const { keeperPid } = await launcher.started(s.runId);
    await waitUntil(() => streamText(taskDir, 'stdout').includes('ready'), 10_000, 'the task to print ready');
    // A (soft) file size limit on the keeper at the pid file's size: appending the exit record fails (EFBIG).
    const limit = statSync(join(taskDir, 'pid')).size;
    const limited = spawnSync('prlimit', ['--pid', String(keeperPid), `--fsize=${limit}:`], { encoding: 'utf8' });
    expect(limited.status, `prlimit: ${limited.stderr}`).toBe(0);
    await writeFile(gate, '');
    const failingSince = Date.now();
    await waitUntil(() => launcher.errors.join('').includes(`${s.runId}: cannot write the exit record`), 10_000, 'the keeper to report the failed write');
    while (Date.now() - failingSince < FAILING_FOR_MS) {
      expect(isAlive(keeperPid), `the keeper gave up after ${Math.round((Date.now() - failingSince) / 1000)} s of failed writes`).toBe(true);
      expect(hasExitRecord(taskDir)).toBe(false);
      await sleep(1000);
    }
    expect(launcher.events.some((line) => line.startsWith(`EXITED ${s.runId}`))).toBe(false);
    const lifted = spawnSync('prlimit', ['--pid', String(keeperPid), '--fsize=unlimited:'], { encoding: 'utf8' });
    expect(lifted.status, `prlimit: ${lifted.stderr}`).toBe(0);
    // The keeper retries at least every 5 s.
    expect((await launcher.outcome(s.runId, 15_000))[0]).toBe('EXITED');
    expect(readExit(taskDir)).toMatchObject({ exitCode: 9, signal: null, timedOut: false, startError: null });
  });
});
