import type { TaskStore } from "@org/store";

type Observe = (labels: { op: string; result: "ok" | "error" }, seconds: number) => void;

/**
 * Times the store's writes from outside: @org/store has no observer hook, so its write methods are wrapped on the
 * one instance the executor uses. Each duration covers the whole operation (its fsyncs, and waiting for earlier
 * writes of the same task), not the fsync alone.
 */
export function timeStoreWrites(store: TaskStore, observe: Observe): void {
  for (const op of ["create", "save", "remove"] as const) {
    const original = store[op].bind(store) as (argument: never) => Promise<void>;
    const timed = (argument: never): Promise<void> => {
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      const result = original(argument);
      result.then(
        () => observe({ op, result: "ok" }, seconds()),
        () => observe({ op, result: "error" }, seconds()),
      );
      return result;
    };
    Object.assign(store, { [op]: timed });
  }
}
