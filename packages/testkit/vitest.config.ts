import { defineConfig } from "vitest/config";

// The Kubernetes test environment is real: etcd, kube-apiserver and kube-controller-manager built from source.
// A cold first start builds them (minutes); later starts take seconds.
export default defineConfig({
  test: {
    globalSetup: ["test/kube-global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
