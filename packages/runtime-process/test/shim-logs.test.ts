// task-shim: CRI log records, byte-exact reconstruction, timestamps and rotation.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Launcher,
  RFC3339_NANO,
  ensureShimBuilt,
  newTaskDir,
  parseLog,
  readRecords,
  reconstruct,
  streamText,
  type LogRecord,
} from './shim-helpers.js';

let launcher: Launcher;

beforeAll(async () => {
  ensureShimBuilt();
  launcher = await Launcher.start();
});

afterAll(async () => {
  await launcher?.close();
});

const simple = (records: LogRecord[]): string[] => records.map((r) => `${r.tag} ${r.text.toString()}`);

describe('task-shim logs', () => {
  it('writes a trailing part without newline at once as a P record', async () => {
    const r = await launcher.run({ argv: ['sh', '-c', "printf abc; sleep 0.3; printf 'def\\nxyz'"] });
    expect(simple(readRecords(r.taskDir, 'stdout'))).toEqual(['P abc', 'F def', 'P xyz']);
    expect(streamText(r.taskDir, 'stdout')).toBe('abcdef\nxyz');
  });

  it('restores binary and invalid UTF-8 output byte for byte', async () => {
    const dir = newTaskDir();
    const crafted = Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x0a, 0xc3, 0x28, 0x1b, 0x5b, 0x6d, 0x80, 0x0a]);
    const data = Buffer.concat([crafted, randomBytes(300_000), crafted, Buffer.from('tail-without-newline')]);
    const file = join(dir, 'payload.bin');
    writeFileSync(file, data);
    const r = await launcher.run({ argv: ['cat', file] });
    expect(r.exit.exitCode).toBe(0);
    const records = readRecords(r.taskDir, 'stdout');
    expect(records.every((x) => x.stream === 'stdout' && (x.tag === 'F' || x.tag === 'P'))).toBe(true);
    expect(records.every((x) => !x.text.includes(0x0a))).toBe(true);
    expect(reconstruct(records).equals(data)).toBe(true);
  });

  it('separates stderr from stdout and orders both streams by strictly increasing time', async () => {
    const r = await launcher.run({
      argv: ['sh', '-c', 'echo a; echo b >&2; sleep 0.1; echo c; echo d >&2; sleep 0.1; echo e'],
    });
    const out = parseLog(readFileSync(join(r.taskDir, 'stdout.log')));
    const err = parseLog(readFileSync(join(r.taskDir, 'stderr.log')));
    expect(out.every((x) => x.stream === 'stdout')).toBe(true);
    expect(err.every((x) => x.stream === 'stderr')).toBe(true);
    expect(simple(out)).toEqual(['F a', 'F c', 'F e']);
    expect(simple(err)).toEqual(['F b', 'F d']);
    const all = [...out, ...err];
    for (const x of all) expect(x.time).toMatch(RFC3339_NANO);
    expect(new Set(all.map((x) => x.time)).size).toBe(all.length);
    const merged = all.sort((x, y) => (x.time < y.time ? -1 : 1)).map((x) => x.text.toString());
    expect(merged).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('keeps timestamps strictly increasing for many lines in one chunk', async () => {
    const r = await launcher.run({ argv: ['sh', '-c', 'seq 1 5000 | cat; seq 1 3000 >&2'] });
    const out = readRecords(r.taskDir, 'stdout');
    const err = readRecords(r.taskDir, 'stderr');
    const seq = (n: number): string => Array.from({ length: n }, (_, i) => `${i + 1}\n`).join('');
    // cat may cut a line between two writes (a P then an F record); the bytes are what counts.
    expect(reconstruct(out).toString()).toBe(seq(5000));
    expect(reconstruct(err).toString()).toBe(seq(3000));
    const times = [...out, ...err].map((x) => x.time);
    expect(new Set(times).size).toBe(times.length);
    for (const records of [out, err]) {
      const t = records.map((x) => x.time);
      expect([...t].sort()).toEqual(t);
    }
  });

  it('keeps every byte and a valid, increasing time per record from a writer that fills the pipe', async () => {
    // 20 MB of 95-byte lines: the keeper enlarges the pipe and stamps the records of each chunk with
    // consecutive nanoseconds, counting the fraction up in place (across carries, e.g. ...099 → ...100).
    const line = 'x'.repeat(94);
    const r = await launcher.run({ argv: ['sh', '-c', `yes '${line}' | head -c 20000000`] });
    const out = readRecords(r.taskDir, 'stdout');
    expect(reconstruct(out).length).toBe(20_000_000);
    expect(reconstruct(out).equals(Buffer.from(`${line}\n`.repeat(210_527)).subarray(0, 20_000_000))).toBe(true);
    const ns = out.map((x) => {
      expect(x.time).toMatch(RFC3339_NANO);
      const [whole, fraction] = x.time.slice(0, -1).split('.');
      return BigInt(Date.parse(`${whole}Z`)) * 1_000_000n + BigInt(fraction!);
    });
    for (let i = 1; i < ns.length; i++) if (ns[i]! <= ns[i - 1]!) throw new Error(`record ${i}: ${out[i]!.time} after ${out[i - 1]!.time}`);
    // Some records share a chunk (consecutive nanoseconds), which is what the counting covers.
    expect(ns.some((x, i) => i > 0 && x - ns[i - 1]! === 1n)).toBe(true);
  });

  it('rotates to .1 without a truncation marker while nothing was dropped', async () => {
    // maxLogBytes 4000: each stream file holds at most 1000 bytes, about 20 of these records.
    const r = await launcher.run({
      argv: ['sh', '-c', 'i=0; while [ $i -lt 30 ]; do echo "line-$i"; i=$((i+1)); done'],
      maxLogBytes: 4000,
    });
    const expected = Array.from({ length: 30 }, (_, i) => `line-${i}\n`).join('');
    expect(existsSync(join(r.taskDir, 'stdout.log.1'))).toBe(true);
    expect(existsSync(join(r.taskDir, 'log-truncated'))).toBe(false);
    expect(streamText(r.taskDir, 'stdout')).toBe(expected);
    for (const f of ['stdout.log', 'stdout.log.1']) expect(statSync(join(r.taskDir, f)).size).toBeLessThanOrEqual(1000);
    expect(existsSync(join(r.taskDir, 'stderr.log.1'))).toBe(false);
  });

  it('replaces an older .1, creates log-truncated and keeps each file within maxLogBytes / 4', async () => {
    const r = await launcher.run({
      argv: ['sh', '-c', 'i=0; while [ $i -lt 300 ]; do echo "line-$i-padding-padding-padding"; i=$((i+1)); done'],
      maxLogBytes: 4000,
    });
    expect(existsSync(join(r.taskDir, 'log-truncated'))).toBe(true);
    expect(readFileSync(join(r.taskDir, 'log-truncated'))).toHaveLength(0);
    for (const f of ['stdout.log', 'stdout.log.1']) expect(statSync(join(r.taskDir, f)).size).toBeLessThanOrEqual(1000);
    // What is left is the newest output, without gaps.
    const lines = streamText(r.taskDir, 'stdout').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.at(-1)).toBe('line-299-padding-padding-padding');
    const first = Number(/^line-(\d+)-/.exec(lines[0] ?? '')?.[1]);
    expect(lines).toEqual(Array.from({ length: lines.length }, (_, i) => `line-${first + i}-padding-padding-padding`));
  });

  it('cuts a line longer than a log file into P records', async () => {
    const r = await launcher.run({
      argv: ['sh', '-c', 'head -c 5000 /dev/zero | tr "\\000" x; echo; echo after'],
      maxLogBytes: 4000,
    });
    for (const f of ['stdout.log', 'stdout.log.1']) expect(statSync(join(r.taskDir, f)).size).toBeLessThanOrEqual(1000);
    expect(existsSync(join(r.taskDir, 'log-truncated'))).toBe(true);
    const records = readRecords(r.taskDir, 'stdout');
    expect(records.at(-1)?.text.toString()).toBe('after');
    expect(records.at(-2)?.tag).toBe('F');
    expect(records.slice(0, -2).every((x) => x.tag === 'P' && /^x+$/.test(x.text.toString()))).toBe(true);
    expect(streamText(r.taskDir, 'stdout')).toMatch(/^x+\nafter\n$/);
  });

  it('does not rotate with maxLogBytes 0', async () => {
    const r = await launcher.run({ argv: ['sh', '-c', 'seq 1 20000'] });
    expect(existsSync(join(r.taskDir, 'stdout.log.1'))).toBe(false);
    const lines = streamText(r.taskDir, 'stdout').trimEnd().split('\n');
    expect(lines).toHaveLength(20000);
    expect(lines.at(-1)).toBe('20000');
  });
});
