#!/usr/bin/env bash
# Sets the machine up (with test prerequisites) and runs every test of the workspace, then prints one
# summary line: "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
rm -rf packages/*/test-results apps/*/test-results
# In CI the real-environment tests (containerd) must run, never skip.
if [ "${CI:-}" = "true" ]; then export REQUIRE_CONTAINERD=1; fi
status=0
pnpm exec turbo run typecheck || status=$?
pnpm exec turbo run test --concurrency=1 --continue || status=$?
node scripts/test-summary.mjs || status=1
exit $status
