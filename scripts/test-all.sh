#!/usr/bin/env bash
# Sets the machine up (with test prerequisites) and runs every test of the workspace, then prints one
# summary line: "tests: N passed, N failed, N skipped" (in CI, anything skipped fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1   # no telemetry notice in every (CI) run
scripts/setup.sh --test
rm -rf packages/*/test-results apps/*/test-results
# In CI every real-environment suite (containerd, namespaces, cgroups, full disk) must run, never skip; the
# summary also fails when anything was skipped.
if [ "${CI:-}" = "true" ]; then export REQUIRE_CONTAINERD=1 REQUIRE_REAL_ENV=1; fi
status=0
# The executor image (scripts/build-images.sh, buildah) takes minutes to build, mostly waiting on the disk and
# the package mirrors: it builds in the background, at low priority, while the suites run, and its test runs
# last. SKIP_IMAGE_TEST=1 leaves it out locally (never in CI).
images_out=$(mktemp -d "${TMPDIR:-/tmp}/test-images.XXXXXX")
image_build_pid=
if [ "${CI:-}" = "true" ] || [ "${SKIP_IMAGE_TEST:-}" != "1" ]; then
  IMAGES_OUT="$images_out" nice -n 15 scripts/build-images.sh executor >"$images_out/build.out" 2>"$images_out/build.log" &
  image_build_pid=$!
fi
pnpm exec turbo run typecheck || status=$?
pnpm exec turbo run test --concurrency=1 --continue || status=$?
if [ -n "$image_build_pid" ]; then
  if wait "$image_build_pid"; then
    archive=$(tail -1 "$images_out/build.out")
  else
    echo "the executor image did not build:" >&2
    tail -40 "$images_out/build.log" >&2
    archive="$images_out/not-built.oci.tar"   # the image test then fails, naming it
  fi
  (cd packages/deploy-tests && EXECUTOR_IMAGE_ARCHIVE="$archive" pnpm exec vitest run --config vitest.images.config.ts \
    --reporter=default --reporter=json --outputFile.json=test-results/images.json) || status=$?
fi
rm -rf "$images_out"
node scripts/test-summary.mjs || status=1
exit $status
