import { describe, expect, it } from "vitest";
import {
  defaultRetentionPolicy,
  retiresNothing,
  selectRetirements,
  type RetentionCandidate,
  type RetentionPolicy,
  type Retirement,
} from "../src/index.js";
import { running, task } from "./helpers.js";

const NOW = 1_000_000;

interface Case {
  name: string;
  candidates: RetentionCandidate[];
  policy: RetentionPolicy;
  now?: number;
  expected: Retirement[];
}

const count = (name: string): Retirement => ({ name, reason: "count" });
const ttl = (name: string): Retirement => ({ name, reason: "ttl" });
const disk = (name: string): Retirement => ({ name, reason: "disk" });

const cases: Case[] = [
  { name: "empty input", candidates: [], policy: { keepPerGroup: 1, finishedTtlMs: 0, maxTotalBytes: 0 }, expected: [] },
  {
    name: "keeps the newest by creation time",
    candidates: [task("t1", 1), task("t3", 3), task("t2", 2), task("t4", 4)],
    policy: { keepPerGroup: 2 },
    expected: [count("t2"), count("t1")],
  },
  {
    name: "creation time decides, not finish time",
    candidates: [task("old", 1, { finishedAt: 500 }), task("new", 2, { finishedAt: 20 })],
    policy: { keepPerGroup: 1 },
    expected: [count("old")],
  },
  {
    name: "equal creation times: the smaller name keeps its place",
    candidates: [task("b", 5), task("a", 5), task("c", 5)],
    policy: { keepPerGroup: 1 },
    expected: [count("b"), count("c")],
  },
  {
    name: "unfinished tasks take places first, even when older",
    candidates: [running("r1", 1), running("r2", 2), task("f", 9)],
    policy: { keepPerGroup: 2 },
    expected: [count("f")],
  },
  {
    name: "unfinished tasks beyond the places are not retired",
    candidates: [running("r1", 1), running("r2", 2), running("r3", 3), task("f", 9)],
    policy: { keepPerGroup: 1 },
    expected: [count("f")],
  },
  {
    name: "protected tasks take places",
    candidates: [task("p1", 10, { protected: true }), task("p2", 9, { protected: true }), task("f", 8)],
    policy: { keepPerGroup: 2 },
    expected: [count("f")],
  },
  {
    name: "protected tasks beyond the places are not retired",
    candidates: [task("p", 1, { protected: true }), task("a", 5), task("b", 6)],
    policy: { keepPerGroup: 1 },
    expected: [count("a")],
  },
  {
    name: "groups are counted apart and listed by name",
    candidates: [task("b1", 1, { group: "b" }), task("b2", 2, { group: "b" }), task("a1", 1, { group: "a" }), task("a2", 2, { group: "a" })],
    policy: { keepPerGroup: 1 },
    expected: [count("a1"), count("b1")],
  },
  {
    name: "keepPerGroup 0 sets no count limit",
    candidates: [task("t1", 1), task("t2", 2), task("t3", 3)],
    policy: { keepPerGroup: 0 },
    expected: [],
  },
  {
    name: "TTL boundary: retired at exactly finishedAt + ttl",
    candidates: [task("due", 0, { finishedAt: NOW - 100 }), task("early", 0, { finishedAt: NOW - 99 })],
    policy: { keepPerGroup: 0, finishedTtlMs: 100 },
    expected: [ttl("due")],
  },
  {
    name: "TTL 0 retires every finished task not finishing in the future",
    candidates: [task("a", 0, { finishedAt: NOW }), task("b", 0, { finishedAt: NOW + 1 }), running("r", 0)],
    policy: { keepPerGroup: 0, finishedTtlMs: 0 },
    expected: [ttl("a")],
  },
  {
    name: "TTL spares unfinished and protected tasks",
    candidates: [running("r", 0), task("p", 0, { protected: true }), task("f", 0)],
    policy: { keepPerGroup: 0, finishedTtlMs: 1 },
    expected: [ttl("f")],
  },
  {
    name: "TTL retirements, finished longest ago first",
    candidates: [task("b", 5, { finishedAt: 30 }), task("a", 1, { finishedAt: 40 }), task("c", 9, { finishedAt: 30 })],
    policy: { keepPerGroup: 0, finishedTtlMs: 1 },
    expected: [ttl("b"), ttl("c"), ttl("a")],
  },
  {
    name: "count wins over TTL",
    candidates: [task("new", 2), task("old", 1)],
    policy: { keepPerGroup: 1, finishedTtlMs: 0 },
    expected: [count("old"), ttl("new")],
  },
  {
    name: "disk: finished longest ago first, until within budget",
    candidates: [
      task("a", 1, { finishedAt: 50, bytes: 10 }),
      task("b", 2, { finishedAt: 20, bytes: 10 }),
      task("c", 3, { finishedAt: 30, bytes: 10 }),
      task("d", 4, { finishedAt: 40, bytes: 10 }),
    ],
    policy: { keepPerGroup: 0, maxTotalBytes: 25 },
    expected: [disk("b"), disk("c")],
  },
  {
    name: "disk ties: creation time, then name",
    candidates: [
      task("y", 2, { finishedAt: 20, bytes: 10 }),
      task("x", 2, { finishedAt: 20, bytes: 10 }),
      task("w", 1, { finishedAt: 20, bytes: 10 }),
    ],
    policy: { keepPerGroup: 0, maxTotalBytes: 10 },
    expected: [disk("w"), disk("x")],
  },
  {
    name: "disk: exactly at the budget is within it",
    candidates: [task("a", 1, { bytes: 10 }), task("b", 2, { bytes: 15 })],
    policy: { keepPerGroup: 0, maxTotalBytes: 25 },
    expected: [],
  },
  {
    name: "disk: unfinished and protected tasks use the budget but stay",
    candidates: [running("r", 1, { bytes: 100 }), task("p", 2, { protected: true, bytes: 100 }), task("f", 3, { bytes: 1 })],
    policy: { keepPerGroup: 0, maxTotalBytes: 50 },
    expected: [disk("f")],
  },
  {
    name: "disk: tasks already retired do not count",
    candidates: [task("big", 1, { bytes: 100 }), task("small", 2, { bytes: 5 }), task("mid", 3, { bytes: 20 })],
    policy: { keepPerGroup: 2, maxTotalBytes: 20 },
    expected: [count("big"), disk("small")],
  },
  {
    name: "all rules together, each task once",
    candidates: [
      running("run", 100, { bytes: 40 }),
      task("keep", 90, { finishedAt: NOW - 10, bytes: 30 }),
      task("guarded", 80, { finishedAt: NOW - 10_000, protected: true, bytes: 30 }),
      task("expired", 70, { finishedAt: NOW - 5_000, bytes: 10 }),
      task("extra", 60, { finishedAt: NOW - 9_000, bytes: 10 }),
      task("other", 10, { group: "h", finishedAt: NOW - 100, bytes: 30 }),
      task("other2", 20, { group: "h", finishedAt: NOW - 50, bytes: 5 }),
    ],
    policy: { keepPerGroup: 4, finishedTtlMs: 1_000, maxTotalBytes: 105 },
    expected: [count("extra"), ttl("expired"), disk("other")],
  },
];

describe("selectRetirements", () => {
  it.each(cases)("$name", ({ candidates, policy, now, expected }) => {
    expect(selectRetirements(candidates, policy, now ?? NOW)).toEqual(expected);
  });

  it("does not depend on the order of the candidates", () => {
    for (const { candidates, policy, now, expected } of cases) {
      expect(selectRetirements([...candidates].reverse(), policy, now ?? NOW)).toEqual(expected);
    }
  });

  it("does not change its input", () => {
    const candidates = Object.freeze([task("b", 2, { bytes: 1 }), task("a", 1, { bytes: 1 })].map((c) => Object.freeze(c)));
    expect(selectRetirements(candidates, { keepPerGroup: 1, maxTotalBytes: 0 }, NOW)).toEqual([count("a"), disk("b")]);
  });

  it("keeps the newest 500 per group by default", () => {
    const candidates = Array.from({ length: 502 }, (_, i) => task(`t${String(i).padStart(3, "0")}`, i));
    expect(selectRetirements(candidates, defaultRetentionPolicy, NOW)).toEqual([count("t001"), count("t000")]);
    expect(selectRetirements(candidates, {}, NOW)).toEqual([count("t001"), count("t000")]);
  });

  it.each<[string, RetentionPolicy]>([
    ["negative keepPerGroup", { keepPerGroup: -1 }],
    ["fractional keepPerGroup", { keepPerGroup: 1.5 }],
    ["NaN TTL", { finishedTtlMs: Number.NaN }],
    ["negative budget", { maxTotalBytes: -5 }],
    ["infinite budget", { maxTotalBytes: Infinity }],
  ])("rejects a policy with %s", (_name, policy) => {
    expect(() => selectRetirements([], policy, NOW)).toThrow(RangeError);
  });

  it.each<[RetentionPolicy, boolean]>([
    [{ keepPerGroup: 0 }, true],
    [{}, false],
    [defaultRetentionPolicy, false],
    [{ keepPerGroup: 1 }, false],
    [{ keepPerGroup: 0, finishedTtlMs: 0 }, false],
    [{ keepPerGroup: 0, maxTotalBytes: 0 }, false],
  ])("retiresNothing(%j) is %s", (policy, expected) => {
    expect(retiresNothing(policy)).toBe(expected);
  });
});
