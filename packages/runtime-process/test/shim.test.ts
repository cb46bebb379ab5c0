// task-shim: outcomes of a run (pid file and its exit record, start errors) and launcher housekeeping.
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Launcher,
  RFC3339_MILLI,
  TASK_PATH,
  allProcs,
  ensureShimBuilt,
  newRunId,
  newTaskDir,
  readExit,
  readPid,
  sleep,
  startRequest,
  statOf,
  streamText,
  waitUntil,
} from './shim-helpers.js';

let launcher: Launcher;

beforeAll(async () => {
  ensureShimBuilt();
  launcher = await Launcher.start({ env: { ...process.env, SHIM_TEST_LAUNCHER_ONLY: 'leak' } });
});

afterAll(async () => {
  await launcher?.close();
});

describe('task-shim outcomes', () => {
  it("reports STARTED with the keeper's start ticks and the pid record's start time", async () => {
    const s = launcher.send({ argv: ['sleep', '5'] });
    const words = await launcher.event('STARTED', s.runId);
    const [keeperPid, taskPid, ticks, startedAt] = words.slice(2);
    const keeperStat = readFileSync(`/proc/${keeperPid}/stat`, 'utf8');
    // Field 22 of /proc/PID/stat, counted after the parenthesised command name.
    expect(ticks).toBe(keeperStat.slice(keeperStat.lastIndexOf(')') + 2).split(' ')[19]);
    expect(ticks).toMatch(/^\d+$/);
    expect(readPid(s.taskDir)).toEqual({ runId: s.runId, keeperPid: Number(keeperPid), pid: Number(taskPid), startedAt });
    process.kill(-Number(taskPid), 'SIGKILL');
    await launcher.outcome(s.runId);
  });

  it('runs echo: exit 0, stdout records, pid file with its exit record', async () => {
    const r = await launcher.run({ argv: ['echo', 'hello', 'world'] });
    expect(r.exit).toMatchObject({
      runId: r.runId,
      exitCode: 0,
      signal: null,
      timedOut: false,
      startError: null,
    });
    expect(r.exit.startedAt).toMatch(RFC3339_MILLI);
    expect(r.exit.finishedAt).toMatch(RFC3339_MILLI);
    expect(r.exit.finishedAt >= r.exit.startedAt).toBe(true);
    expect(streamText(r.taskDir, 'stdout')).toBe('hello world\n');
    expect(readFileSync(join(r.taskDir, 'stdout.log'), 'utf8')).toMatch(/^\S+ stdout F hello world\n$/);
    // A stream the task wrote nothing to has no file.
    expect(existsSync(join(r.taskDir, 'stderr.log'))).toBe(false);

    const pid = readPid(r.taskDir);
    expect(Object.keys(pid).sort()).toEqual(['keeperPid', 'pid', 'runId', 'startedAt']);
    expect(pid).toMatchObject({ runId: r.runId, keeperPid: r.keeperPid, pid: r.taskPid });
    expect(pid.startedAt).toMatch(RFC3339_MILLI);
    expect(pid.startedAt).toBe(r.exit.startedAt);
    expect(Math.abs(Date.parse(pid.startedAt) - Date.now())).toBeLessThan(60_000);
    // No temporary files are left behind.
    expect(readdirSync(r.taskDir).sort()).toEqual(['pid', 'stdout.log']);
    // The pid file holds two lines: the pid record, then the exit record.
    expect(readFileSync(join(r.taskDir, 'pid'), 'utf8').split('\n')).toHaveLength(3);
  });

  it('reports exit code 3', async () => {
    const r = await launcher.run({ argv: ['sh', '-c', 'exit 3'] });
    expect(r.exit).toMatchObject({ exitCode: 3, signal: null, timedOut: false, startError: null });
  });

  it('reports death by signal as 128 + signal', async () => {
    const r = await launcher.run({ argv: ['sh', '-c', 'kill -USR1 $$; sleep 5'] });
    expect(r.exit).toMatchObject({ exitCode: 128 + 10, signal: 10, timedOut: false, startError: null });
  });

  it('reports a missing binary with 127 and a message naming it', async () => {
    const r = await launcher.run({ argv: ['no-such-command-for-shim-test', 'x'] });
    expect(r.exit.exitCode).toBe(127);
    expect(r.exit.signal).toBeNull();
    expect(r.exit.startError).toContain('no-such-command-for-shim-test');
  });

  it('reports a file without execute permission with 126', async () => {
    const dir = newTaskDir();
    const script = join(dir, 'not-executable.sh');
    writeFileSync(script, '#!/bin/sh\necho should-not-run\n', { mode: 0o644 });
    const r = await launcher.run({ argv: [script] });
    expect(r.exit.exitCode).toBe(126);
    expect(r.exit.startError).toContain(script);
    expect(streamText(r.taskDir, 'stdout')).toBe('');
  });

  it('reports a missing working directory with exit 1 and its name', async () => {
    const missing = join(newTaskDir(), 'gone', 'away');
    const r = await launcher.run({ argv: ['echo', 'x'], workingDir: missing });
    expect(r.exit.exitCode).toBe(1);
    expect(r.exit.startError).toContain(missing);
  });

  it('runs in the working directory', async () => {
    const wd = newTaskDir();
    const r = await launcher.run({ argv: ['pwd'], workingDir: wd });
    expect(streamText(r.taskDir, 'stdout')).toBe(`${wd}\n`);
  });

  it('passes exactly the task env, with JSON-unsafe values intact', async () => {
    const r = await launcher.run({
      argv: ['sh', '-c', 'printf "%s|" "$GREETING"; env'],
      env: [TASK_PATH, 'GREETING=hello "quoted" \\ world'],
    });
    const out = streamText(r.taskDir, 'stdout');
    expect(out.startsWith('hello "quoted" \\ world|')).toBe(true);
    expect(out).toContain('GREETING=');
    expect(out).not.toContain('SHIM_TEST_LAUNCHER_ONLY');
  });

  it('looks argv[0] up in the PATH of the task env', async () => {
    const bin = newTaskDir();
    writeFileSync(join(bin, 'shim-probe-tool'), '#!/bin/sh\necho "probe-ok $*"\n', { mode: 0o755 });
    chmodSync(join(bin, 'shim-probe-tool'), 0o755);
    const ok = await launcher.run({ argv: ['shim-probe-tool', 'a', 'b'], env: [`PATH=${bin}:/usr/bin:/bin`] });
    expect(ok.exit.exitCode).toBe(0);
    expect(streamText(ok.taskDir, 'stdout')).toBe('probe-ok a b\n');

    // The launcher's own PATH would find sh; the task's PATH does not.
    const miss = await launcher.run({ argv: ['sh', '-c', 'true'], env: ['PATH=/nonexistent-dir'] });
    expect(miss.exit.exitCode).toBe(127);
    expect(miss.exit.startError).toContain('"sh"');
  });

  it('makes the task join its cgroups (writes its pid)', async () => {
    const dir = newTaskDir();
    const procs = join(dir, 'cgroup.procs');
    writeFileSync(procs, '');
    const r = await launcher.run({ argv: ['true'], cgroups: [procs] });
    expect(r.exit.exitCode).toBe(0);
    expect(readFileSync(procs, 'utf8').trim()).toBe(String(r.taskPid));
  });

  it('reports a cgroup that cannot be joined as startError', async () => {
    const bogus = '/nonexistent-cgroup-root/shim-test/cgroup.procs';
    const r = await launcher.run({ argv: ['echo', 'should-not-run'], cgroups: [bogus] });
    expect(r.exit.exitCode).toBe(1);
    expect(r.exit.startError).toContain(bogus);
    expect(streamText(r.taskDir, 'stdout')).toBe('');
  });

  it('gives the task only /dev/null stdin and its two pipes', async () => {
    const r = await launcher.run({ argv: ['ls', '-l', '/proc/self/fd'] });
    const links = new Map<number, string>();
    for (const line of streamText(r.taskDir, 'stdout').split('\n')) {
      const m = / (\d+) -> (.*)$/.exec(line);
      if (m) links.set(Number(m[1]), m[2] ?? '');
    }
    expect(links.get(0)).toBe('/dev/null');
    expect(links.get(1)).toMatch(/^pipe:/);
    expect(links.get(2)).toMatch(/^pipe:/);
    expect(links.get(1)).not.toBe(links.get(2));
    for (const [fd, target] of links) {
      if (fd > 2) expect(target, `fd ${fd}`).toMatch(/^\/proc\//); // ls's own directory handle
    }
  });

  it('answers SUPERSEDED and runs nothing when a pid file exists', async () => {
    const dir = newTaskDir();
    const owner = '{"runId":"owner","keeperPid":1,"pid":1,"startedAt":"2020-01-01T00:00:00.000Z"}\n';
    writeFileSync(join(dir, 'pid'), owner);
    const s = launcher.send({ argv: ['touch', join(dir, 'marker')], taskDir: dir });
    expect(await launcher.outcome(s.runId)).toEqual(['SUPERSEDED', s.runId]);
    expect(launcher.events.some((l) => l.startsWith(`STARTED ${s.runId} `))).toBe(false);
    await sleep(200);
    expect(existsSync(join(dir, 'marker'))).toBe(false);
    // The owner's pid file is untouched: no pid record of this keeper, and no exit record appended.
    expect(readFileSync(join(dir, 'pid'), 'utf8')).toBe(owner);
    expect(readdirSync(dir).filter((n) => n.includes('tmp'))).toEqual([]);
  });

  it('lets only one of two keepers for the same directory run', async () => {
    const dir = newTaskDir();
    const a = launcher.send({ argv: ['sh', '-c', `echo x >> ${dir}/runs`], taskDir: dir });
    const b = launcher.send({ argv: ['sh', '-c', `echo x >> ${dir}/runs`], taskDir: dir });
    const outcomes = [(await launcher.outcome(a.runId))[0], (await launcher.outcome(b.runId))[0]].sort();
    expect(outcomes).toEqual(['EXITED', 'SUPERSEDED']);
    expect(readFileSync(join(dir, 'runs'), 'utf8')).toBe('x\n');
  });

  it('answers FAILED when the task directory cannot be used', async () => {
    const s = launcher.send({ argv: ['true'], taskDir: '/nonexistent-shim-test/task' });
    const words = await launcher.outcome(s.runId);
    expect(words.slice(0, 2)).toEqual(['FAILED', s.runId]);
    expect(words.join(' ')).toContain('task directory');
  });

  it('answers FAILED for an invalid request field', async () => {
    const s = launcher.send({ argv: ['true'], taskDir: 'relative/dir' });
    expect((await launcher.outcome(s.runId))[0]).toBe('FAILED');
    const t = launcher.send({ argv: [] });
    expect((await launcher.outcome(t.runId))[0]).toBe('FAILED');
  });

  it('handles a burst of requests written at once', async () => {
    const dirs = Array.from({ length: 20 }, () => newTaskDir());
    const runs = dirs.map((d, i) => launcher.send({ argv: ['sh', '-c', `exit ${i}`], taskDir: d }));
    for (const [i, s] of runs.entries()) {
      expect((await launcher.outcome(s.runId))[0]).toBe('EXITED');
      expect(readExit(s.taskDir)).toMatchObject({ exitCode: i });
    }
  });

  it('runs each keeper in its own session and the task in its own group', async () => {
    const s = launcher.send({ argv: ['sleep', '1'] });
    const { keeperPid, taskPid } = await launcher.started(s.runId);
    expect(statOf(keeperPid)).toMatchObject({ session: keeperPid, pgrp: keeperPid, ppid: launcher.proc.pid });
    expect(statOf(taskPid)).toMatchObject({ pgrp: taskPid, ppid: keeperPid, session: keeperPid });
    expect((await launcher.outcome(s.runId))[0]).toBe('EXITED');
  });

  it('reaps finished keepers (no zombies under the launcher)', async () => {
    for (let i = 0; i < 5; i++) await launcher.run({ argv: ['true'] });
    await waitUntil(
      () => !allProcs().some((p) => p.ppid === launcher.proc.pid && p.state === 'Z'),
      3000,
      'keepers to be reaped',
    );
  });
});

describe('task-shim launcher protocol', () => {
  it('assembles a request that arrives in pieces', async () => {
    const runId = newRunId();
    const taskDir = newTaskDir();
    const req = startRequest({ runId, taskDir, argv: ['echo', 'pieces'] });
    const cuts = [0, 3, 9, 40, req.length - 1, req.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      launcher.proc.stdin.write(req.subarray(cuts[i], cuts[i + 1]));
      await sleep(30);
    }
    expect((await launcher.outcome(runId))[0]).toBe('EXITED');
    expect(streamText(taskDir, 'stdout')).toBe('pieces\n');
  });

  it('carries large env values and arbitrary bytes in fields', async () => {
    // 300 kB in one request (the launcher's buffer grows); one env string must stay below 128 kB.
    const big = 'v'.repeat(100_000);
    const odd = 'tab\tnewline\ncomma,colon:quote"';
    const r = await launcher.run({
      argv: ['sh', '-c', 'printf "%s" "$B1$B2$B3" | wc -c; printf "%s" "$1"', 'sh', odd],
      env: [TASK_PATH, `B1=${big}`, `B2=${big}`, `B3=${big}`],
    });
    expect(streamText(r.taskDir, 'stdout')).toBe(`300000\n${odd}`);
  });

  it('runs tasks that are still on their way after a request with a bad runId', async () => {
    const bad = launcher.send({ argv: ['true'], runId: 'bad id with spaces' });
    const good = await launcher.run({ argv: ['sh', '-c', 'exit 9'] });
    expect(good.exit.exitCode).toBe(9);
    expect(launcher.events.some((l) => l.includes(bad.runId))).toBe(false);
    expect(readExit(good.taskDir).runId).toBe(good.runId);
  });

  it('exits with status 2 on a malformed stream or an unknown verb', async () => {
    for (const input of ['garbage', '4:STOP,2:r1,']) {
      const own = await Launcher.start();
      own.proc.stdin.write(input);
      expect(await own.exited).toBe(2);
      await own.close();
    }
  });

  it('exits with status 0 on EOF', async () => {
    const own = await Launcher.start();
    await own.close();
    expect(await own.exited).toBe(0);
  });
});
