// task-shim: what a keeper makes durable before the task runs, read from a system call trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Launcher, ensureShimBuilt } from './shim-helpers.js';

const scratch = mkdtempSync(join(tmpdir(), 'shim-durability-'));
beforeAll(() => {
  ensureShimBuilt();
  const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  expect(probe.status, `strace is needed for this test (scripts/setup.sh --test installs it): ${probe.error ?? probe.stderr}`).toBe(0);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('task-shim durability', () => {
  it("makes the pid file's directory entry durable before the task may run, and its exit record before it reports the exit", async () => {
    const trace = join(scratch, 'trace');
    const launcher = await Launcher.start({ wrap: ['strace', '-f', '-y', '-qq', '-s', '256', '-e', 'trace=linkat,fsync,fdatasync,write,pwrite64,execve', '-o', trace] });
    let taskDir: string;
    try {
      const run = await launcher.run({ argv: ['/bin/true'] });
      taskDir = run.taskDir;
      expect(run.exit.exitCode).toBe(0);
    } finally {
      await launcher.close();
    }
    const calls = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((line) => line && !line.includes('resumed>'))
      .map((line) => line.replace(/^\d+\s+/, ''));
    const linked = calls.findIndex((call) => call.startsWith('linkat(') && call.includes(`"pid"`));
    const dirSynced = calls.findIndex((call, index) => index > linked && /^f(data)?sync\(/.test(call) && call.includes(`<${taskDir}>)`));
    // The keeper lets the task child go with one byte on a pipe; the child then execs the command.
    const go = calls.findIndex((call, index) => index > linked && /^write\(\d+<pipe:\[\d+\]>, "g", 1\)/.test(call));
    const exec = calls.findIndex((call) => call.startsWith('execve("/bin/true"'));
    expect(linked, calls.join('\n')).toBeGreaterThanOrEqual(0);
    expect(dirSynced, `no fsync of ${taskDir} after the pid file's link:\n${calls.join('\n')}`).toBeGreaterThan(linked);
    expect(go, calls.join('\n')).toBeGreaterThan(dirSynced);
    expect(exec).toBeGreaterThan(go);
    // The exit record is appended to the pid file and flushed before the keeper reports EXITED.
    const appended = calls.findIndex((call, index) => index > exec && call.startsWith(`pwrite64(`) && call.includes(`<${taskDir}/pid>`) && call.includes('\\"exitCode\\":0'));
    const fd = calls[appended]?.match(/^pwrite64\((\d+)</)?.[1];
    const flushed = calls.findIndex((call, index) => index > appended && call.startsWith(`fdatasync(${fd}<`));
    const reported = calls.findIndex((call) => /^write\(\d+<[^>]*>, "EXITED /.test(call));
    expect(appended, `no append of the exit record to ${taskDir}/pid:\n${calls.join('\n')}`).toBeGreaterThan(exec);
    expect(flushed, `no flush of ${taskDir}/pid after the exit record:\n${calls.join('\n')}`).toBeGreaterThan(appended);
    expect(reported, calls.join('\n')).toBeGreaterThan(flushed);
  });
});
