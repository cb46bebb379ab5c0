import { defineConfig } from 'vitest/config';

// The task-shim tests run real processes with timeouts and grace periods.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
