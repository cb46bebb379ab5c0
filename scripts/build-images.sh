#!/usr/bin/env bash
# Builds the images of the repository's Dockerfile (targets executor, controller, cli) without a Docker engine:
# buildah (vfs storage, chroot isolation) on a base image assembled here from Debian's packages (debootstrap)
# and this machine's Node.js 20, imported under the name the Dockerfile's BASE_IMAGE expects.
#
#   scripts/build-images.sh [TARGET...]     build TARGETs (default: executor controller cli) and export them
#   scripts/build-images.sh base            only assemble and import the base image
#
# Environment:
#   IMAGES_OUT      where the OCI archives go (default dist/images; gitignored): task-executor.oci.tar, ...
#   IMAGES_CACHE    base rootfs and buildah storage (default ${XDG_CACHE_HOME:-$HOME/.cache}/task-executor/images)
#   IMAGE_TAG       tag of the built images (default: the version in apps/executor/package.json)
#   DEBIAN_MIRROR   default http://deb.debian.org/debian
#
# Images are named localhost/task-executor, localhost/task-controller and localhost/taskctl. The last lines of
# stdout are the archive paths. Needs root; installs buildah and debootstrap with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

log() { echo "build-images: $*" >&2; }

cache="${IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/task-executor/images}"
out="${IMAGES_OUT:-$repo/dist/images}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite=bookworm
base_image="localhost/node:20-bookworm-slim"
tag="${IMAGE_TAG:-$(node -p "require('./apps/executor/package.json').version")}"
mkdir -p "$cache" "$out"

missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >&2 || { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; }
fi

# A private buildah storage: vfs works on every file system (no overlay mounts inside this VM or a container).
bah() { buildah --root "$cache/storage" --runroot "$cache/run" --storage-driver vfs "$@"; }

node_bin=$(command -v node)
node_version=$(node --version)
case "$node_version" in
  v20.*) ;;
  *) log "the base image needs Node.js 20, this machine has $node_version"; exit 1 ;;
esac
# npm and corepack as the official images ship them, taken from the machine's Node installation.
node_modules_dir="$(dirname "$(readlink -f "$node_bin")")/../lib/node_modules"

# The base rootfs, cached per Debian suite and Node version: debootstrap (minbase) + node + npm + corepack,
# a user `node` (uid 1000, as in the official image), no apt lists or caches.
rootfs_tar="$cache/rootfs-$suite-node-$node_version.tar"
build_rootfs() {
  local work
  work=$(mktemp -d "$cache/rootfs.XXXXXX")
  log "debootstrap $suite from $mirror (minbase; a few minutes)"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$work/root" "$mirror" >"$work.log" 2>&1 || {
    tail -30 "$work.log" >&2
    rm -rf "$work" "$work.log"
    exit 1
  }
  install -m 0755 "$node_bin" "$work/root/usr/local/bin/node"
  mkdir -p "$work/root/usr/local/lib/node_modules"
  for pkg in npm corepack; do
    [ -d "$node_modules_dir/$pkg" ] && cp -a "$node_modules_dir/$pkg" "$work/root/usr/local/lib/node_modules/"
  done
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/root/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/root/usr/local/bin/npx"
  ln -sf ../lib/node_modules/corepack/dist/corepack.js "$work/root/usr/local/bin/corepack"
  chroot "$work/root" groupadd --gid 1000 node
  chroot "$work/root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin "$work/root/var/cache/apt/archives/"*.deb \
    "$work/root/var/log/"*.log "$work/root/tmp/"* 2>/dev/null || true
  tar --numeric-owner --xattrs -C "$work/root" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work" "$work.log"
}

import_base() {
  [ -f "$rootfs_tar" ] || build_rootfs
  if bah inspect --type image "$base_image" >/dev/null 2>&1 \
    && [ "$(bah inspect --type image --format '{{index .ImageAnnotations "org.dev.base-rootfs"}}' "$base_image" 2>/dev/null)" = "$(basename "$rootfs_tar")" ]; then
    return
  fi
  log "importing $rootfs_tar as $base_image"
  local ctr
  ctr=$(bah from scratch)
  bah add "$ctr" "$rootfs_tar" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env NODE_VERSION="${node_version#v}" \
    --cmd node --annotation "org.dev.base-rootfs=$(basename "$rootfs_tar")" "$ctr"
  bah commit --quiet --rm "$ctr" "$base_image" >/dev/null
}

import_base
[ "${1:-}" = "base" ] && exit 0

# Where this machine reaches the npm registry through a TLS-intercepting proxy, its Node trusts an extra CA
# bundle: the build stage gets the same bundle (mounted for its RUN steps, never part of an image).
build_args=(--build-arg "BASE_IMAGE=$base_image")
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  build_args+=(--volume "$NODE_EXTRA_CA_CERTS:/etc/ssl/build-extra-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/etc/ssl/build-extra-ca.crt)
fi

targets=("$@")
((${#targets[@]} > 0)) || targets=(executor controller cli)
for target in "${targets[@]}"; do
  case "$target" in
    executor) name=task-executor ;;
    controller) name=task-controller ;;
    cli) name=taskctl ;;
    *) log "unknown target $target (executor, controller or cli)"; exit 2 ;;
  esac
  log "building $target as localhost/$name:$tag"
  bah bud --isolation chroot --layers --pull-never "${build_args[@]}" --target "$target" \
    -f Dockerfile -t "localhost/$name:$tag" . >&2
  archive="$out/$name.oci.tar"
  rm -f "$archive"
  bah push --quiet "localhost/$name:$tag" "oci-archive:$archive:localhost/$name:$tag" >&2
  size=$(bah images --format '{{.Size}}' "localhost/$name:$tag" 2>/dev/null | head -1)
  log "$name: $archive ($(du -h "$archive" | cut -f1) compressed, ${size:-?} unpacked)"
  echo "$archive"
done
