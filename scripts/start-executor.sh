#!/usr/bin/env bash
# Sets the machine up if needed and starts the executor with the guide's defaults
# (data dir /var/lib/sandbox/tasks, API on 0.0.0.0:5758). Extra arguments are passed to task-executor.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec pnpm exec task-executor "$@"
