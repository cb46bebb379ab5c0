#!/usr/bin/env bash
# A private containerd (CRI plugin + runc) for tests of the container runtime.
#
#   scripts/containerd-test-env.sh [start] [DIR]   start (or reuse) the instance under DIR; prints the socket path
#   scripts/containerd-test-env.sh stop [DIR]       removes its containers, stops it, unmounts and deletes its state
#   scripts/containerd-test-env.sh socket [DIR]     prints the socket path of DIR's instance
#
# DIR defaults to $CONTAINERD_TEST_DIR or /tmp/containerd-test-env. Everything lives under DIR: config, root,
# state, runc root, socket (DIR/containerd.sock) and log (DIR/containerd.log). The system containerd at
# /run/containerd is never used (containerd 1.6 shims do place their own sockets under /run/containerd/s, named
# by a hash of our socket path, so they never collide with the system's).
#
# Pods run with the host network (no CNI) and the sandbox image localhost/pause:test, which the caller imports
# after the start (packages/testkit/src/containerd.ts does this). Needs root; installs containerd, runc and
# busybox-static with apt-get when they are missing.
set -euo pipefail

cmd="start"
case "${1:-}" in
  start | stop | socket) cmd="$1"; shift ;;
esac
dir="${1:-${CONTAINERD_TEST_DIR:-/tmp/containerd-test-env}}"
case "$dir" in
  /*) ;;
  *) dir="$(pwd)/$dir" ;;
esac
sock="$dir/containerd.sock"
ns="k8s.io"

log() { echo "containerd-test-env: $*" >&2; }

running_pid() {
  local pid
  [[ -f "$dir/containerd.pid" ]] || return 1
  pid="$(cat "$dir/containerd.pid")"
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  grep -qa -- "$dir/config.toml" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

answers() { timeout 5 ctr --address "$sock" version >/dev/null 2>&1; }

# The CRI plugin loaded (containerd also boots, without it, when its config is wrong).
cri_ok() { timeout 5 ctr --address "$sock" plugins ls 2>/dev/null | grep -Eq 'io\.containerd\.grpc\.v1 +cri +.* ok *$'; }

install_missing() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  # The image needs a static busybox (the `busybox` package's binary is dynamically linked).
  if command -v dpkg-query >/dev/null; then
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" || missing+=(busybox-static)
  else
    [[ -x /bin/busybox ]] || missing+=(busybox-static)
  fi
  ((${#missing[@]} == 0)) && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "${missing[@]}" >&2; then
    apt-get update -q >&2
    apt-get install -y -q "${missing[@]}" >&2
  fi
}

# overlayfs when it can be mounted on DIR's file system, else the native snapshotter.
pick_snapshotter() {
  local t="$dir/overlay-probe" ok=1
  rm -rf "$t"
  mkdir -p "$t/lower" "$t/upper" "$t/work" "$t/merged"
  if mount -t overlay overlay -o "lowerdir=$t/lower,upperdir=$t/upper,workdir=$t/work" "$t/merged" 2>/dev/null; then
    umount "$t/merged" && ok=0
  fi
  rm -rf "$t"
  if ((ok == 0)); then echo overlayfs; else echo native; fi
}

write_config() {
  local snapshotter="$1"
  cat >"$dir/config.toml" <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = [
  "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"

[plugins."io.containerd.runtime.v1.linux"]
  runtime_root = "$dir/runtime-v1"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:test"
  disable_apparmor = true
  restrict_oom_score_adj = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "$snapshotter"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$dir/runc"
        SystemdCgroup = false

  # Pods use the node network; an empty CNI config dir keeps the system's CNI set-up out of the picture.
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$dir/cni/bin"
    conf_dir = "$dir/cni/conf"

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ""
EOF
}

# Unmounts everything mounted below DIR (rootfs overlays, sandbox shm), deepest first.
unmount_below() {
  local m
  awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

# Shim processes serving this instance (their command line carries our socket path).
shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    if grep -qa -- "containerd-shim" "$p/cmdline" 2>/dev/null && grep -qa -- "$sock" "$p/cmdline" 2>/dev/null; then
      basename "$p"
    fi
  done
}

start() {
  mkdir -p "$dir"
  if pid="$(running_pid)"; then
    if answers; then
      echo "$sock"
      return 0
    fi
    log "containerd (pid $pid) under $dir does not answer; restarting it"
    stop_instance
  fi
  install_missing
  unmount_below
  mkdir -p "$dir/root" "$dir/state" "$dir/runc" "$dir/opt" "$dir/cni/bin" "$dir/cni/conf"
  local snapshotter
  snapshotter="$(pick_snapshotter)"
  [[ "$snapshotter" == overlayfs ]] || log "overlayfs is not available under $dir; using the native snapshotter"
  write_config "$snapshotter"
  rm -f "$sock" "$sock.ttrpc"
  [[ -f "$dir/containerd.log" ]] && mv -f "$dir/containerd.log" "$dir/containerd.log.prev"
  setsid containerd --config "$dir/config.toml" --log-level info </dev/null >>"$dir/containerd.log" 2>&1 &
  local launched=$!
  echo "$launched" >"$dir/containerd.pid"
  local i
  for ((i = 0; i < 300; i++)); do
    if [[ -S "$sock" ]] && answers; then
      if ! cri_ok; then
        log "the CRI plugin of containerd did not load; see $dir/containerd.log"
        grep -i 'failed to load plugin' "$dir/containerd.log" | tail -n 5 >&2 || true
        stop_instance
        return 1
      fi
      log "containerd $(containerd --version | awk '{print $3}') ready at $sock (snapshotter $snapshotter)"
      echo "$sock"
      return 0
    fi
    # Alive, not running_pid: until the forked shell has exec'd containerd (slow on a loaded machine) its
    # command line is still this script's, and running_pid would take a starting daemon for a dead one.
    if ! kill -0 "$launched" 2>/dev/null; then break; fi
    sleep 0.2
  done
  log "containerd did not come up; last lines of $dir/containerd.log:"
  tail -n 30 "$dir/containerd.log" >&2 || true
  stop_instance
  kill -9 "$launched" 2>/dev/null || true
  return 1
}

stop_instance() {
  local pid id p i
  if pid="$(running_pid)" && answers; then
    # Kill and delete every container first so no task outlives the daemon.
    for id in $(ctr --address "$sock" -n "$ns" containers ls -q 2>/dev/null); do
      timeout 10 ctr --address "$sock" -n "$ns" tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 0.3
    for id in $(ctr --address "$sock" -n "$ns" containers ls -q 2>/dev/null); do
      timeout 10 ctr --address "$sock" -n "$ns" tasks delete -f "$id" >/dev/null 2>&1 || true
      timeout 10 ctr --address "$sock" -n "$ns" containers delete "$id" >/dev/null 2>&1 || true
    done
  fi
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [[ -d "/proc/$pid" ]] || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  for p in $(shim_pids); do kill -9 "$p" 2>/dev/null || true; done
  # Containers the daemon could not reach: ask runc directly (its state for this instance is under DIR/runc).
  if [[ -d "$dir/runc/$ns" ]]; then
    for id in $(runc --root "$dir/runc/$ns" list -q 2>/dev/null); do
      runc --root "$dir/runc/$ns" delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  rm -f "$dir/containerd.pid" "$sock" "$sock.ttrpc"
  unmount_below
}

case "$cmd" in
  start) start ;;
  socket) echo "$sock" ;;
  stop)
    stop_instance
    rm -rf "$dir/root" "$dir/state" "$dir/runc" "$dir/opt" "$dir/runtime-v1" "$dir/images"
    log "stopped the instance under $dir"
    ;;
esac
