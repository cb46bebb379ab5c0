import { defineConfig } from "vitest/config";

// The containerd tests run real containers; the first start may also install containerd with apt-get.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
