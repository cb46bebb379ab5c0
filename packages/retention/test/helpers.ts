import type { RetentionCandidate } from "../src/index.js";

/** A candidate: finished (at createdAt + 10) unless `finishedAt: undefined` is given; group "g"; 0 bytes. */
export function task(name: string, createdAt: number, fields: Partial<RetentionCandidate> = {}): RetentionCandidate {
  return { name, group: "g", createdAt, finishedAt: createdAt + 10, protected: false, bytes: 0, ...fields };
}

/** An unfinished candidate. */
export function running(name: string, createdAt: number, fields: Partial<RetentionCandidate> = {}): RetentionCandidate {
  const candidate = task(name, createdAt, fields);
  delete candidate.finishedAt;
  return candidate;
}

/** A small deterministic pseudo-random generator (mulberry32), values in [0, 1). */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
