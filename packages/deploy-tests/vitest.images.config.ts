import { defineConfig } from "vitest/config";

/**
 * The executor image in the CRI suites' containerd: `pnpm --filter @org/deploy-tests run test:images`.
 * It builds the image first (scripts/build-images.sh, with buildah), which takes many minutes, so it is not
 * part of `pnpm test`: scripts/test-all.sh builds the image in the background while the other suites run and
 * then runs this with EXECUTOR_IMAGE_ARCHIVE.
 */
export default defineConfig({
  test: {
    include: ["test-images/**/*.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
