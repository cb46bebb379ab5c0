#!/usr/bin/env bash
# Installs everything the executor needs on a fresh Debian machine (idempotent), then builds the workspace.
#   scripts/setup.sh          runtime prerequisites + build
#   scripts/setup.sh --test   also the test prerequisites (containerd, runc, busybox-static, and the Kubernetes
#                             control plane of scripts/k8s-testenv.sh, built from source and cached)
set -euo pipefail
cd "$(dirname "$0")/.."
# turbo would print its telemetry notice in every run (and CI run)
export TURBO_TELEMETRY_DISABLED=1

want_test=false
[ "${1:-}" = "--test" ] && want_test=true

packages=()
command -v cc >/dev/null 2>&1 || packages+=(gcc libc6-dev)
command -v nsenter >/dev/null 2>&1 || packages+=(util-linux)
if $want_test; then
  # Commands the test suites call: certificates, process lookup, namespaces, loop file systems.
  command -v openssl >/dev/null 2>&1 || packages+=(openssl)
  command -v pgrep >/dev/null 2>&1 || packages+=(procps)
  command -v setpriv >/dev/null 2>&1 || packages+=(util-linux)
  command -v mkfs.ext4 >/dev/null 2>&1 || packages+=(e2fsprogs)
  command -v strace >/dev/null 2>&1 || packages+=(strace)   # durability tests trace fsync calls
  command -v hostname >/dev/null 2>&1 || packages+=(hostname)
  command -v zsh >/dev/null 2>&1 || packages+=(zsh)         # taskctl's zsh completion is tested in a real zsh
  command -v containerd >/dev/null 2>&1 || packages+=(containerd)
  command -v runc >/dev/null 2>&1 || packages+=(runc)
  [ -x /bin/busybox ] || packages+=(busybox-static)
  # The Kubernetes test environment: network namespaces with veth pairs, readiness probes.
  command -v ip >/dev/null 2>&1 || packages+=(iproute2)
  command -v curl >/dev/null 2>&1 || packages+=(curl)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$pnpm_version" ]; then
  echo "setup: installing pnpm $pnpm_version"
  npm install -g "pnpm@$pnpm_version" >/dev/null 2>&1
fi

pnpm install --frozen-lockfile --loglevel=error
pnpm run -s build >/dev/null
if $want_test; then
  scripts/k8s-testenv.sh build >/dev/null
fi
echo "setup: done"
