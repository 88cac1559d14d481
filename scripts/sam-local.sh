#!/usr/bin/env bash
# `make sam-local`, a step of `make test` (README, "SAM local invocation"): the functions as SAM
# runs them, in Docker containers, beside DynamoDB Local and the SQS emulator. It installs
# Debian's docker.io when missing; starts a Docker engine of its own (its socket under
# target/sam-local/, its state in a temporary folder, its containers on a bridge of its own
# whose gateway is where the emulators listen); makes a stand-in for Lambda's
# provided.al2023 image from Debian packages, nothing pulled from a container registry;
# `sam build`s the template for this machine (scripts/sam-build-x86_64.sh); then
# tests/stack/sam_local.py invokes every function and serves the API. The engine, its
# containers, images, bridge and state are stopped and removed at the end, pass or fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Debian puts dockerd and ip in the system folders, not on every user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"
[ "$(uname -m)" = x86_64 ] || { echo "the SAM local step runs x86_64 images: this machine is $(uname -m)" >&2; exit 1; }
"$root/scripts/install-tools.sh" stack
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} != 0 ]; then
  "$root/scripts/apt-install.sh" "the SAM local step" "${missing[@]}"
  # On a machine run by systemd the package starts the system's engine: this step leaves none.
  if [ -d /run/systemd/system ]; then
    $([ "$(id -u)" = 0 ] || echo sudo -n) systemctl disable --now docker.socket docker.service containerd.service >/dev/null 2>&1 || true
  fi
fi

# The engine runs as root.
sudo=""
if [ "$(id -u)" != 0 ]; then
  sudo -n true 2>/dev/null || { echo "the SAM local step starts dockerd: run it as root or with password-less sudo" >&2; exit 1; }
  sudo="sudo -n"
fi
run="$root/target/sam-local"
mkdir -p "$run"
export DOCKER_HOST="unix://$run/docker.sock"

# SAM reaches a container's runtime API through a published port, so containers cannot share
# the host's network (with `--docker-network host` the emulator inside listens on 8080, not on
# the port SAM dials). They get a bridge of this step's own instead; the emulators listen on
# its gateway, which is an address of this machine's, and no iptables rule is written. (One run
# at a time: a second would take the first's bridge.)
bridge=whsam0 gateway=10.254.213.1
state=$(mktemp -d /tmp/sam-local.XXXXXX)
stop() {
  # The engine's containers, the engine, and the containerd it started (which outlives a
  # killed engine).
  if [ -f "$state/dockerd.pid" ]; then
    docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
    for pidfile in "$state/dockerd.pid" "$state/exec/containerd/containerd.pid"; do
      [ -f "$pidfile" ] || continue
      pid=$(cat "$pidfile")
      $sudo kill "$pid" 2>/dev/null || true
      for _ in $(seq 100); do $sudo kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      $sudo kill -9 "$pid" 2>/dev/null || true
    done
  fi
  # The network namespaces the engine left mounted, then its state and bridge.
  grep -o " $state/[^ ]*" /proc/mounts | sort -r | xargs -r $sudo umount -l 2>/dev/null || true
  $sudo rm -rf "$state" "$run/docker.sock"
  $sudo ip link delete "$bridge" 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

$sudo ip link delete "$bridge" 2>/dev/null || true # a run killed before its end left it
# A MAC address of its own: a bridge without one takes its lowest port's, which changes as
# containers come and go, and the containers' ARP entries for the gateway go stale (connections
# to the emulators then time out).
$sudo ip link add "$bridge" address 02:42:ac:1f:fe:01 type bridge
$sudo ip addr add "$gateway/24" dev "$bridge"
$sudo ip link set "$bridge" up
# Namespaces of its own in containerd, should the engine find the system's running.
$sudo dockerd --host "$DOCKER_HOST" --data-root "$state/data" --exec-root "$state/exec" \
  --pidfile "$state/dockerd.pid" --bridge "$bridge" --iptables=false --ip6tables=false \
  --containerd-namespace whsam --containerd-plugins-namespace whsam-plugins >"$run/dockerd.log" 2>&1 &
for _ in $(seq 150); do [ -S "$run/docker.sock" ] && break; sleep 0.2; done
# Its socket is this user's, for the docker client and SAM.
[ -z "$sudo" ] || $sudo chown "$(id -u)" "$run/docker.sock" 2>/dev/null || true
for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
docker version >/dev/null 2>&1 || { tail -20 "$run/dockerd.log" >&2; echo "dockerd did not start (log above)" >&2; exit 1; }

# The stand-in for public.ecr.aws/lambda/provided:al2023, tagged as SAM looks it up: glibc (the
# bootstraps link it), Mozilla's CA certificates in one bundle as update-ca-certificates makes
# it (the AWS SDK's TLS reads the system's roots at start), busybox for the shell and tools
# SAM's image build runs, and the variables and working folder of Amazon's image.
packages=(libc6 libgcc-s1 ca-certificates busybox-static)
mkdir -p "$state/debs" "$state/rootfs"
(cd "$state/debs" && apt-get download -qq "${packages[@]}" 2>/dev/null) ||
  { $sudo apt-get update -qq && (cd "$state/debs" && apt-get download -qq "${packages[@]}"); }
for deb in "$state"/debs/*.deb; do dpkg-deb -x "$deb" "$state/rootfs"; done
for tool in sh mv chmod cp rm ls cat; do ln -sf busybox "$state/rootfs/bin/$tool"; done
mkdir -p "$state/rootfs/etc/ssl/certs"
cat "$state"/rootfs/usr/share/ca-certificates/mozilla/*.crt >"$state/rootfs/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$state/rootfs/tmp" "$state/rootfs/var/task" "$state/rootfs/var/runtime" "$state/rootfs/opt"
chmod 1777 "$state/rootfs/tmp"
tar -C "$state/rootfs" --owner=0 --group=0 --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/opt/bin' --change 'ENV LANG=en_US.UTF-8' --change 'ENV TZ=:/etc/localtime' \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' --change 'WORKDIR /var/task' \
  - public.ecr.aws/lambda/provided:al2023-x86_64 >/dev/null
echo "stand-in image public.ecr.aws/lambda/provided:al2023-x86_64 from Debian's ${packages[*]}" >&2

"$root/scripts/sam-build-x86_64.sh"
export PATH="$root/.tools/lambda-venv/bin:$PATH" SAM_CLI_TELEMETRY=0
work="${CARGO_TARGET_DIR:-$root/target}/stack"
WEBHOOKS_SERVICES_HOST=$gateway "$root/scripts/with-services.sh" "$root/.tools/stack-venv/bin/python" "$root/tests/stack/sam_local.py" "$work/build" "$run"
