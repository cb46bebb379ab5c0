import { describe, expect, it } from "vitest";
import { compareForPlaces, retiresNothing, selectRetirements, type RetentionCandidate, type RetentionPolicy } from "../src/index.js";
import { random } from "./helpers.js";

// fast-check cannot be resolved from this package, so these property checks draw their own seeded inputs.

const NOW = 100_000;

function randomCase(next: () => number): { candidates: RetentionCandidate[]; policy: RetentionPolicy } {
  const pick = (n: number): number => Math.floor(next() * n);
  const candidates = Array.from({ length: pick(40) }, (_, i): RetentionCandidate => {
    const createdAt = pick(50) * 1000; // few distinct values, so ties happen
    const candidate: RetentionCandidate = {
      name: `t${i}`,
      group: ["a", "b", "c"][pick(3)]!,
      createdAt,
      protected: next() < 0.2,
      bytes: pick(100),
    };
    if (next() < 0.8) candidate.finishedAt = createdAt + pick(10) * 1000;
    return candidate;
  });
  const policy: RetentionPolicy = { keepPerGroup: pick(8) };
  if (next() < 0.5) policy.finishedTtlMs = pick(60) * 1000;
  if (next() < 0.5) policy.maxTotalBytes = pick(2000);
  return { candidates, policy };
}

function shuffle<T>(items: readonly T[], next: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe("selectRetirements invariants (seeded random inputs)", () => {
  it("holds every rule on 2000 random inputs", () => {
    const next = random(7);
    for (let run = 0; run < 2000; run++) {
      const { candidates, policy } = randomCase(next);
      const result = selectRetirements(candidates, policy, NOW);
      const retired = new Map(result.map((r) => [r.name, r.reason]));
      const byName = new Map(candidates.map((c) => [c.name, c]));

      // Each task at most once, only known, finished, unprotected tasks.
      expect(retired.size).toBe(result.length);
      for (const { name } of result) {
        const task = byName.get(name)!;
        expect(task.finishedAt).toBeDefined();
        expect(task.protected).toBe(false);
      }

      // A policy without any limit retires nothing, whatever the candidates.
      if (retiresNothing(policy)) expect(result).toEqual([]);

      // The candidates' order does not matter.
      expect(selectRetirements(shuffle(candidates, next), policy, NOW)).toEqual(result);

      // Count: exactly the finished unprotected tasks beyond the places are retired for count.
      const keep = policy.keepPerGroup!;
      for (const group of ["a", "b", "c"]) {
        const ranked = candidates.filter((c) => c.group === group).sort(compareForPlaces);
        ranked.forEach((task, place) => {
          const beyond = keep > 0 && place >= keep && task.finishedAt !== undefined && !task.protected;
          expect(retired.get(task.name) === "count").toBe(beyond);
        });
      }

      // TTL: no expired finished unprotected task is left.
      if (policy.finishedTtlMs !== undefined) {
        for (const task of candidates) {
          const expired = task.finishedAt !== undefined && !task.protected && task.finishedAt + policy.finishedTtlMs <= NOW;
          if (expired) expect(retired.has(task.name)).toBe(true);
        }
      }

      // Disk: within budget unless nothing more may go, and no task retired for disk that was not needed.
      const left = candidates.filter((c) => !retired.has(c.name));
      const total = left.reduce((sum, c) => sum + c.bytes, 0);
      if (policy.maxTotalBytes === undefined) {
        expect(result.some((r) => r.reason === "disk")).toBe(false);
      } else {
        const retirableLeft = left.some((c) => c.finishedAt !== undefined && !c.protected);
        if (retirableLeft) expect(total).toBeLessThanOrEqual(policy.maxTotalBytes);
        const lastDisk = result.filter((r) => r.reason === "disk").at(-1);
        if (lastDisk) expect(total + byName.get(lastDisk.name)!.bytes).toBeGreaterThan(policy.maxTotalBytes);
      }
    }
  });
});
