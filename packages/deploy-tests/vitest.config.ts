import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Against a real etcd + kube-apiserver + kube-controller-manager, one file at a time.
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
