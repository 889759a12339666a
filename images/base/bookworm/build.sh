#!/bin/sh
# Build the Debian bookworm base image of the lab without any registry:
# debootstrap (minbase + the packages the bookworm flavour needs) into a
# temporary directory, then `docker import` it.
#
#   images/base/bookworm/build.sh [TAG]
#
# TAG defaults to the first 12 hex digits of this script's sha256, so a change
# to the package list (or anything else here) yields a new tag. The image is
# tagged upstart-unicorn-lab/base-bookworm:TAG and :latest.
#
# Idempotent: does nothing when the image TAG already exists (FORCE=1 rebuilds).
# Environment: DEBIAN_MIRROR (default: debootstrap's own default mirror),
#              DEBOOTSTRAP_CACHE (default /var/cache/upstart-unicorn-lab/debootstrap;
#              downloaded .debs are kept there to make rebuilds faster),
#              TMPDIR_BASE (default /var/tmp).
set -eu

REPO=upstart-unicorn-lab/base-bookworm
SUITE=bookworm
# What the bookworm flavour needs at run time (systemd as PID 1, nginx in front
# of the app, Ruby unicorn 6 beside phoenix with the rack it runs, tools the
# lab and the tests use) plus patchelf, which the runtime image build
# (images/runtime) uses; installing it here keeps `docker build` free of any
# network access.
PACKAGES=systemd,systemd-sysv,dbus,nginx,ruby,unicorn,ruby-rack,socat,curl,procps,ca-certificates,iproute2,patchelf

log() { printf '[base-bookworm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

self=$0
TAG=${1:-$(sha256sum "$self" | cut -c1-12)}
IMAGE=$REPO:$TAG

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed: apt-get install -y debootstrap"
command -v docker >/dev/null 2>&1 || die "docker client is not installed: apt-get install -y docker.io"
docker info >/dev/null 2>&1 || die "Docker is not running: start dockerd (dockerd >/var/log/dockerd.log 2>&1 &)"

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already exists; nothing to do (FORCE=1 rebuilds)"
  docker tag "$IMAGE" "$REPO:latest"
  printf '%s\n' "$IMAGE"
  exit 0
fi

CACHE=${DEBOOTSTRAP_CACHE:-/var/cache/upstart-unicorn-lab/debootstrap}
mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR_BASE:-/var/tmp}/upstart-unicorn-lab-bookworm.XXXXXX")
ROOTFS=$WORK/rootfs

cleanup() {
  status=$?
  trap - EXIT INT TERM
  # debootstrap mounts proc/sys/dev inside the target; a failed run can leave
  # them mounted. Unmount (deepest first) before removing anything, and never
  # let rm cross into another filesystem.
  if [ -d "$WORK" ]; then
    awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$WORK"
    log "removed $WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
log "debootstrap --variant=minbase $SUITE into $ROOTFS"
log "extra packages: $PACKAGES"
# shellcheck disable=SC2086 # the mirror is optional and must vanish when unset
debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE" \
  "$SUITE" "$ROOTFS" ${DEBIAN_MIRROR:-} 2>&1 |
  while IFS= read -r line; do
    case $line in
      *the\ base\ system*|*required\ packages*) log "  $line" ;;
      I:\ Retrieving*|I:\ Validating*|I:\ Extracting*|I:\ Unpacking*|I:\ Configuring*) ;;  # one per package: noise
      *) log "  $line" ;;
    esac
  done
# A pipeline's status is its last command's: check debootstrap's own result.
[ -x "$ROOTFS/bin/sh" ] && [ -f "$ROOTFS/var/lib/dpkg/status" ] && [ ! -d "$ROOTFS/debootstrap" ] ||
  die "debootstrap failed (see the lines above)"
log "debootstrap done in $(( $(date +%s) - start ))s"

# Make the tree an image, not a machine: no package lists or caches, no
# machine-id (systemd creates one on first boot), a policy that starts no
# services while packages are installed in a later docker build.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log
: > "$ROOTFS/etc/machine-id"
rm -f "$ROOTFS/var/lib/dbus/machine-id"
printf '#!/bin/sh\nexit 101\n' > "$ROOTFS/usr/sbin/policy-rc.d"
chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"

log "importing as $IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . |
  docker import \
    --change 'LABEL upstart-unicorn-lab=1' \
    --change "LABEL upstart-unicorn-lab.image=base-bookworm" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    - "$IMAGE" >/dev/null
docker tag "$IMAGE" "$REPO:latest"
log "built $IMAGE in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
printf '%s\n' "$IMAGE"
