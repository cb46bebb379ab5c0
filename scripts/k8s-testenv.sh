#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for tests: etcd, kube-apiserver and kube-controller-manager,
# built from source (test/k8s-env/go.mod pins the versions) and cached outside the repository.
#
#   scripts/k8s-testenv.sh build        build the binaries (or reuse the cache); prints the binary directory
#   scripts/k8s-testenv.sh up [DIR]     start the control plane with its state and logs in DIR; the last
#                                       line of stdout is the admin kubeconfig's path
#   scripts/k8s-testenv.sh down [DIR]   stop what `up` started in DIR and remove its state (the logs stay)
#
# DIR defaults to $K8S_TESTENV_DIR, else /tmp/task-executor-k8s. Progress goes to stderr.
# Binaries are cached in ${XDG_CACHE_HOME:-$HOME/.cache}/task-executor/k8s/<hash of go.mod and go.sum>/
# (override the cache root with $K8S_TESTENV_CACHE).
set -euo pipefail
shopt -s inherit_errexit

repo=$(cd "$(dirname "$0")/.." && pwd)
module_dir="$repo/test/k8s-env"
kube_version=v1.32.13
cache_root=${K8S_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/task-executor/k8s}
components=(etcd kube-apiserver kube-controller-manager)

log() { echo "k8s-testenv: $*" >&2; }
die() { echo "k8s-testenv: error: $*" >&2; exit 1; }

go_bin() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go
  else die "Go is not installed (looked on PATH and in /usr/local/go/bin)"
  fi
}

bin_dir() {
  local hash
  hash=$(cat "$module_dir/go.mod" "$module_dir/go.sum" | sha256sum | cut -c1-16)
  echo "$cache_root/$hash"
}

cached() {
  local c
  [ -f "$1/.complete" ] || return 1
  for c in "${components[@]}"; do [ -x "$1/$c" ] || return 1; done
}

# kubectl: the one on PATH, else built from the same module into the cache.
kubectl_bin() {
  if command -v kubectl >/dev/null 2>&1; then command -v kubectl; return; fi
  local dir go
  dir=$(bin_dir)
  mkdir -p "$cache_root"
  exec 8>"$cache_root/.kubectl.lock"
  flock 8
  if [ ! -x "$dir/kubectl" ]; then
    go=$(go_bin)
    log "kubectl is not installed; building it from source into $dir"
    mkdir -p "$dir"
    (cd "$module_dir" && GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 "$go" build -trimpath \
      -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitVersion=$kube_version" \
      -o "$dir/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl >&2) || die "building kubectl failed"
    mv "$dir/kubectl.tmp" "$dir/kubectl"
  fi
  exec 8>&-
  echo "$dir/kubectl"
}

# Builds the three binaries into the cache unless they are already there. Prints the directory.
# Concurrent builds (e.g. two test runs on a cold cache) take turns on a lock; the second one reuses the first's.
build() {
  local dir go tmp
  dir=$(bin_dir)
  if cached "$dir"; then
    echo "$dir"
    return
  fi
  go=$(go_bin)
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.build.lock"
  flock 9
  if cached "$dir"; then
    exec 9>&-
    echo "$dir"
    return
  fi
  tmp=$(mktemp -d "$cache_root/.build-XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  log "building etcd, kube-apiserver, kube-controller-manager $kube_version from source into $dir (takes minutes on a cold cache)"
  local started=$SECONDS
  local version_flags="-X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=32 -X k8s.io/component-base/version.gitTreeState=clean"
  (
    cd "$module_dir"
    export GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0
    "$go" build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3 >&2 &&
      "$go" build -trimpath -ldflags "-s -w $version_flags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2 &&
      "$go" build -trimpath -ldflags "-s -w $version_flags" -o "$tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager >&2
  ) || die "building the control plane failed (see the Go output above)"
  touch "$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir" || die "could not move the binaries to $dir"
  trap - EXIT
  exec 9>&-
  log "built in $((SECONDS - started)) s"
  echo "$dir"
}

default_dir() { echo "${K8S_TESTENV_DIR:-/tmp/task-executor-k8s}"; }

# Free loopback TCP ports, one per argument slot; bound together so that they differ.
free_ports() {
  node -e '
    const net = require("net");
    const n = Number(process.argv[1]);
    const servers = [];
    let ports = [];
    const next = () => {
      if (servers.length === n) { console.log(ports.join(" ")); servers.forEach((s) => s.close()); return; }
      const s = net.createServer();
      s.listen(0, "127.0.0.1", () => { ports.push(s.address().port); servers.push(s); next(); });
    };
    next();' "$1"
}

# Whether the pid file's process runs and is the component started for this directory (its command line names
# the directory), so that a pid reused by an unrelated process is never signalled.
alive() {
  local pidfile=$1 dir pid
  dir=$(dirname "$pidfile")
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/"
}

# Starts a component in its own session with output to DIR/logs/NAME.log; records its pid in DIR/NAME.pid.
start_component() {
  local dir=$1 name=$2; shift 2
  setsid "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
  echo $! >"$dir/$name.pid"
}

fail_component() {
  local dir=$1 name=$2 what=$3
  log "$name $what; last lines of $dir/logs/$name.log:"
  tail -n 30 "$dir/logs/$name.log" >&2 || true
  stop_all "$dir"
  die "$name $what (logs in $dir/logs)"
}

# Waits until `check` succeeds, failing early when the component's process has exited.
wait_until() {
  local dir=$1 name=$2 timeout=$3; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    # Liveness only, not `alive`: until the forked shell has exec'd the component (slow on a loaded machine) its
    # command line is still this script's, and `alive` would take a starting component for a dead one.
    kill -0 "$(cat "$dir/$name.pid" 2>/dev/null)" 2>/dev/null || fail_component "$dir" "$name" "exited during start-up"
    [ $SECONDS -lt $deadline ] || fail_component "$dir" "$name" "was not ready within $timeout s"
    sleep 0.3
  done
}

stop_all() {
  local dir=$1 name pid i
  for name in kube-controller-manager kube-apiserver etcd; do
    [ -f "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    if alive "$dir/$name.pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { log "$name ($pid) did not stop on SIGTERM, killing it"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
    rm -f "$dir/$name.pid"
  done
}

# EC P-256 keys throughout: generating them takes milliseconds, RSA keys seconds on a busy machine.
gen_certs() {
  local pki=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=task-executor-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" 2>/dev/null
  cat >"$pki/apiserver.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=kube-apiserver" \
    -keyout "$pki/apiserver.key" -out "$pki/apiserver.csr" 2>/dev/null
  openssl x509 -req -in "$pki/apiserver.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 3650 -extfile "$pki/apiserver.ext" -out "$pki/apiserver.crt" 2>/dev/null
  # Service-account tokens are signed with this key (ES256) and verified with its public half.
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
  openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
}

write_kubeconfig() {
  local file=$1 server=$2 ca=$3 token=$4
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8s-testenv
  cluster:
    server: $server
    certificate-authority: $ca
users:
- name: admin
  user:
    token: $token
contexts:
- name: k8s-testenv
  context:
    cluster: k8s-testenv
    user: admin
    namespace: default
current-context: k8s-testenv
EOF
  chmod 600 "$file"
}

install_crds() {
  local dir=$1 kubeconfig=$2 kubectl=$3 crds="$repo/deploy/crds" names
  [ -d "$crds" ] || return 0
  compgen -G "$crds/*.yaml" >/dev/null || compgen -G "$crds/*.yml" >/dev/null || return 0
  log "installing CRDs from $crds"
  names=$("$kubectl" --kubeconfig "$kubeconfig" apply -f "$crds" -o name 2>"$dir/logs/crds.log") || {
    cat "$dir/logs/crds.log" >&2; stop_all "$dir"; die "kubectl apply -f $crds failed"; }
  # shellcheck disable=SC2086
  "$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Established --timeout=60s $names >/dev/null 2>>"$dir/logs/crds.log" || {
    cat "$dir/logs/crds.log" >&2; stop_all "$dir"; die "the CRDs did not become Established"; }
}

# Starts etcd, kube-apiserver and kube-controller-manager in DIR (fresh certificates, token, ports); exits
# non-zero, with everything stopped again, when one of them does not come up.
start_all() {
  local dir=$1 bins=$2 kubectl=$3
  stop_all "$dir"
  rm -rf "$dir/pki" "$dir/etcd-data" "$dir/kcm-certs" "$dir/apiserver-certs" "$dir/kubeconfig" "$dir/env"
  mkdir -p "$dir/pki" "$dir/logs" "$dir/kcm-certs" "$dir/apiserver-certs"
  touch "$dir/.k8s-testenv"
  gen_certs "$dir/pki"
  local token
  token=$(openssl rand -hex 24)
  echo "$token,admin,admin,\"system:masters\"" >"$dir/pki/tokens.csv"
  chmod 600 "$dir/pki/tokens.csv"

  local etcd_port peer_port api_port kcm_port
  read -r etcd_port peer_port api_port kcm_port < <(free_ports 4)
  local etcd_url="http://127.0.0.1:$etcd_port" server="https://127.0.0.1:$api_port"

  start_component "$dir" etcd "$bins/etcd" --name=k8s-testenv --data-dir="$dir/etcd-data" \
    --listen-client-urls="$etcd_url" --advertise-client-urls="$etcd_url" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="k8s-testenv=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level=warn
  wait_until "$dir" etcd 30 curl -sf "$etcd_url/health"

  start_component "$dir" kube-apiserver "$bins/kube-apiserver" \
    --etcd-servers="$etcd_url" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$api_port" \
    --cert-dir="$dir/apiserver-certs" --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" --token-auth-file="$dir/pki/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 --endpoint-reconciler-type=none --allow-privileged=true --profiling=false
  write_kubeconfig "$dir/kubeconfig" "$server" "$dir/pki/ca.crt" "$token"
  wait_until "$dir" kube-apiserver 90 curl -sf --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" "$server/readyz"

  start_component "$dir" kube-controller-manager "$bins/kube-controller-manager" \
    --kubeconfig="$dir/kubeconfig" --authentication-kubeconfig="$dir/kubeconfig" --authorization-kubeconfig="$dir/kubeconfig" \
    --controllers=serviceaccount,serviceaccount-token,garbagecollector,namespace,root-ca-cert-publisher \
    --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$dir/kcm-certs" \
    --use-service-account-credentials=false --profiling=false
  wait_until "$dir" kube-controller-manager 60 curl -sfk "https://127.0.0.1:$kcm_port/healthz"
  wait_until "$dir" kube-controller-manager 60 "$kubectl" --kubeconfig "$dir/kubeconfig" get serviceaccount default -n default

  install_crds "$dir" "$dir/kubeconfig" "$kubectl"
  cat >"$dir/env" <<EOF
KUBECONFIG=$dir/kubeconfig
K8S_TESTENV_SERVER=$server
K8S_TESTENV_ETCD=$etcd_url
K8S_TESTENV_KUBECTL=$kubectl
EOF
}

up() {
  local dir=${1:-$(default_dir)} bins kubectl started=$SECONDS
  for tool in openssl curl node setsid; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (scripts/setup.sh --test installs it)"
  done
  bins=$(build)
  kubectl=$(kubectl_bin)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/.k8s-testenv" ] && alive "$dir/etcd.pid" && alive "$dir/kube-apiserver.pid" && alive "$dir/kube-controller-manager.pid" \
    && "$kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz >/dev/null 2>&1; then
    log "already running in $dir"
    echo "$dir/kubeconfig"
    return
  fi
  if [ -n "$(ls -A "$dir")" ] && [ ! -f "$dir/.k8s-testenv" ]; then
    die "$dir is not empty and not a k8s-testenv directory; choose another DIR"
  fi
  # In a subshell (so that a failure can be retried) run as a plain command, so that `set -e` holds inside.
  local rc
  set +e; (set -e; start_all "$dir" "$bins" "$kubectl"); rc=$?; set -e
  if [ $rc -ne 0 ]; then
    # Free ports are picked before the components bind them; another program may take one meanwhile.
    grep -qs "address already in use" "$dir/logs/etcd.log" "$dir/logs/kube-apiserver.log" "$dir/logs/kube-controller-manager.log" || exit $rc
    log "a port was taken meanwhile; starting again on other ports"
    start_all "$dir" "$bins" "$kubectl"
  fi
  local server
  server=$(sed -n 's/^K8S_TESTENV_SERVER=//p' "$dir/env")
  log "up in $((SECONDS - started)) s: API server $server, logs in $dir/logs"
  echo "$dir/kubeconfig"
}

down() {
  local dir=${1:-$(default_dir)}
  [ -d "$dir" ] || { log "nothing to stop in $dir"; return; }
  dir=$(cd "$dir" && pwd)
  [ -f "$dir/.k8s-testenv" ] || die "$dir is not a k8s-testenv directory"
  stop_all "$dir"
  rm -rf "$dir/pki" "$dir/etcd-data" "$dir/kcm-certs" "$dir/apiserver-certs" "$dir/kubeconfig" "$dir/env"
  log "stopped; logs kept in $dir/logs"
}

case "${1:-}" in
  build) build; kubectl_bin >/dev/null ;;
  up) up "${2:-}" ;;
  down) down "${2:-}" ;;
  *) echo "usage: $0 build | up [DIR] | down [DIR]" >&2; exit 2 ;;
esac
