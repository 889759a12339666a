#!/usr/bin/env bash
# A second Docker engine on this machine, standing in for a second host in the matrix tests
# (test/e2e/two-engines.test.ts) and the benchmark (npm run bench:matrix). Not a CI step.
#
#   test/support/second-dockerd.sh start    # start it (idempotent) and load the lab's images into it
#   test/support/second-dockerd.sh load     # (re)load the lab's current images into it
#   test/support/second-dockerd.sh stop     # stop it (a stand-in for a host going away mid-run)
#   test/support/second-dockerd.sh clean    # stop it, remove its containers, data and bridge
#   test/support/second-dockerd.sh status   # running or not, and its DOCKER_HOST
#
# What works here (cgroup v1, one dockerd already running with its own containerd and docker0):
#  - its own socket, data root, exec root and pid file under $LAB_D2 (default /tmp/lab-d2);
#    the exec root gives it its own managed containerd, so the two engines never share
#    containerd state (a shared "moby" namespace would let one engine clean up the other's);
#  - its own bridge, lab-d2br, created here with an address of our choosing: --bridge must name
#    an existing interface, and dockerd's default (docker0) belongs to the first engine.
#    Published ports need a bridge; the address is the containers' network, never a traffic
#    target (the lab's load only goes to 127.0.0.1 ports that docker-proxy publishes);
#  - --iptables=false: two engines editing the same DOCKER chains remove each other's rules on
#    restart; docker-proxy (the userland proxy, the default) publishes 127.0.0.1 ports without
#    any iptables rule, and lab containers need no outbound traffic;
#  - its own cgroup parent (/lab-d2), so its containers are told apart in the cgroup tree.
# Images are not shared: `load` copies the lab's images (bookworm, its debootstrap base and the
# runtime, all tags) with `docker save | docker -H ... load`, which keeps their ids, so the
# content-hash tags the lab asks for are found there too and nothing is rebuilt.
set -euo pipefail

D2=${LAB_D2:-/tmp/lab-d2}
SOCK="$D2/docker.sock"
HOST="unix://$SOCK"
BRIDGE=${LAB_D2_BRIDGE:-lab-d2br}
# The containers' network on the second engine: a bridge address, not a traffic target. No
# default is written here: the person starting it picks a subnet free on this machine
# (`ip -4 addr` and `docker network inspect bridge` show the ones in use).
BRIDGE_CIDR=${LAB_D2_BRIDGE_CIDR:-}
REPOS=${LAB_D2_REPOS:-"upstart-unicorn-lab/bookworm upstart-unicorn-lab/base-bookworm upstart-unicorn-lab/runtime"}

running() { [ -S "$SOCK" ] && docker -H "$HOST" info >/dev/null 2>&1; }

start() {
  if running; then echo "second dockerd already answers at $HOST"; return 0; fi
  mkdir -p "$D2/root" "$D2/exec"
  if [ -f "$D2/docker.pid" ] && ! kill -0 "$(cat "$D2/docker.pid")" 2>/dev/null; then rm -f "$D2/docker.pid"; fi
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    if [ -z "$BRIDGE_CIDR" ]; then
      echo "second-dockerd.sh: set LAB_D2_BRIDGE_CIDR to ADDRESS/PREFIX of a subnet free on this machine for the second engine's bridge" >&2
      exit 64
    fi
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  dockerd \
    --host "$HOST" \
    --data-root "$D2/root" \
    --exec-root "$D2/exec" \
    --pidfile "$D2/docker.pid" \
    --bridge "$BRIDGE" \
    --iptables=false --ip-masq=false --ip-forward=false \
    --cgroup-parent /lab-d2 \
    >"$D2/dockerd.log" 2>&1 &
  for _ in $(seq 60); do running && break; sleep 1; done
  if ! running; then echo "the second dockerd did not start:"; tail -n 40 "$D2/dockerd.log"; exit 1; fi
  echo "second dockerd answers at $HOST (log: $D2/dockerd.log)"
}

load() {
  running || { echo "no second dockerd at $HOST: start it first"; exit 1; }
  local refs=()
  for repo in $REPOS; do
    while read -r ref; do [ -n "$ref" ] && refs+=("$ref"); done < <(docker images --format '{{.Repository}}:{{.Tag}}' "$repo" | grep -v '<none>' || true)
  done
  if [ ${#refs[@]} -eq 0 ]; then echo "no lab images on the first engine: run 'lab build --flavour bookworm' first"; exit 1; fi
  # Only what the second engine lacks (by id): a save of the same layers is cheap, but not free.
  local want=()
  for ref in "${refs[@]}"; do
    local id have
    id=$(docker image inspect --format '{{.Id}}' "$ref")
    have=$(docker -H "$HOST" image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
    [ "$id" = "$have" ] || want+=("$ref")
  done
  if [ ${#want[@]} -eq 0 ]; then echo "the second engine has every lab image already (${#refs[@]} tags)"; return 0; fi
  echo "loading ${#want[@]} image tag(s) into $HOST: ${want[*]}"
  docker save "${want[@]}" | docker -H "$HOST" load
}

stop() {
  if [ -f "$D2/docker.pid" ] && kill -0 "$(cat "$D2/docker.pid")" 2>/dev/null; then
    local pid; pid=$(cat "$D2/docker.pid")
    kill "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then echo "dockerd $pid did not stop in 30 s: SIGKILL"; kill -9 "$pid"; fi
    echo "second dockerd ($pid) stopped"
  else
    echo "no second dockerd running"
  fi
}

clean() {
  if running; then
    local ids; ids=$(docker -H "$HOST" ps -aq)
    [ -z "$ids" ] || docker -H "$HOST" rm -f $ids >/dev/null
  fi
  stop
  # containerd-shims of containers it could not remove (a dockerd killed with -9) are its own.
  for pid in $(pgrep -f -- "-address $D2/exec/containerd/containerd.sock" || true); do kill "$pid" 2>/dev/null || true; done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link set "$BRIDGE" down; ip link del "$BRIDGE"; fi
  # overlay mounts under its data root go before the data itself.
  { grep -o " $D2/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$D2"
  echo "second dockerd cleaned: containers, data root, exec root and bridge $BRIDGE removed"
}

case "${1:-}" in
  start) start; load ;;
  load) load ;;
  stop) stop ;;
  clean) clean ;;
  status) if running; then echo "running: DOCKER_HOST=$HOST"; else echo "not running"; exit 1; fi ;;
  host) echo "$HOST" ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
esac
