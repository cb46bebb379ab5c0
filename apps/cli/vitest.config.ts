import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Pure parts and the built taskctl against real executors.
        test: { name: "executor", include: ["test/*.test.ts"], testTimeout: 60_000, hookTimeout: 120_000, maxWorkers: 2 },
      },
      {
        // Against a real etcd + kube-apiserver + kube-controller-manager, the controller and an executor pod.
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          globalSetup: ["test/cluster/global-setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          maxWorkers: 1,
        },
      },
    ],
  },
});
