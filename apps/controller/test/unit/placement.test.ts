import { describe, expect, it } from "vitest";
import { pickExecutor, type ExecutorCandidate } from "../../src/policy/placement.js";
import { executorLoss } from "../../src/policy/executor-loss.js";

const executor = (key: string, extra: Partial<ExecutorCandidate> = {}): ExecutorCandidate => ({
  key,
  namespace: key.split("/")[0]!,
  labels: {},
  available: true,
  modes: ["process"],
  unfinished: 0,
  ...extra,
});

describe("pickExecutor", () => {
  it.each<[string, Parameters<typeof pickExecutor>[0], ExecutorCandidate[], string | RegExp]>([
    ["the least loaded", { namespace: "a", kind: "process" }, [executor("a/x", { unfinished: 3 }), executor("a/y", { unfinished: 1 })], "a/y"],
    ["ties by key", { namespace: "a", kind: "process" }, [executor("a/y"), executor("a/x")], "a/x"],
    ["only its own namespace", { namespace: "a", kind: "process" }, [executor("b/x")], /no executor pods in namespace a/],
    ["the executor namespace when set", { namespace: "a", kind: "process", executorNamespace: "pool" }, [executor("a/x"), executor("pool/z", { unfinished: 9 })], "pool/z"],
    ["matching the selector", { namespace: "a", kind: "process", executorSelector: { matchLabels: { gpu: "yes" } } }, [executor("a/x"), executor("a/y", { labels: { gpu: "yes" }, unfinished: 5 })], "a/y"],
    ["nothing matches the selector", { namespace: "a", kind: "process", executorSelector: { matchLabels: { gpu: "yes" } } }, [executor("a/x")], /matches the executorSelector/],
    ["container tasks need container mode", { namespace: "a", kind: "container" }, [executor("a/x"), executor("a/y", { modes: ["process", "container"], unfinished: 2 })], "a/y"],
    ["no modes reported means process only", { namespace: "a", kind: "container" }, [executor("a/x", { modes: [] })], /runs container tasks/],
    ["unavailable executors are skipped", { namespace: "a", kind: "process" }, [executor("a/x", { available: false }), executor("a/y", { unfinished: 7 })], "a/y"],
    ["none available", { namespace: "a", kind: "process" }, [executor("a/x", { available: false })], /ready and reachable/],
  ])("picks %s", (_name, request, candidates, expected) => {
    const decision = pickExecutor(request, candidates);
    if (typeof expected === "string") expect(decision.executor?.key).toBe(expected);
    else expect("reason" in decision ? decision.reason : "").toMatch(expected);
  });
});

describe("executorLoss", () => {
  const timeout = 30_000;
  const now = 1_000_000;
  it.each([
    ["pod deleted: at once", { podPresent: false, ready: true, lastContactMs: now }, true],
    ["answering and Ready", { podPresent: true, ready: true, lastContactMs: now - 1000 }, false],
    ["not Ready for less than the timeout", { podPresent: true, ready: false, notReadySinceMs: now - 10_000, lastContactMs: now }, false],
    ["not Ready for longer", { podPresent: true, ready: false, notReadySinceMs: now - 31_000, lastContactMs: now }, true],
    ["silent for less than the timeout", { podPresent: true, ready: true, lastContactMs: now - 29_000 }, false],
    ["silent for longer", { podPresent: true, ready: true, lastContactMs: now - 31_000 }, true],
  ])("%s", (_name, facts, lost) => {
    expect(executorLoss(facts, now, timeout).lost).toBe(lost);
  });
});

describe("pickExecutor while an executor is not known yet", () => {
  it("decides nothing instead of reporting no executor", () => {
    const decision = pickExecutor({ namespace: "a", kind: "process" }, [executor("a/x", { available: false, unknown: true })]);
    expect(decision).toMatchObject({ undecided: true });
    expect(pickExecutor({ namespace: "a", kind: "process" }, [executor("a/x", { available: false, unknown: true }), executor("a/y")]).executor?.key).toBe("a/y");
  });
});
