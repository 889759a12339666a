#!/bin/sh
# Build the precise base image without a registry: debootstrap Ubuntu 12.04
# (minbase) from MIRROR, import it, then build images/base/precise/Dockerfile
# on that import (apt sources, nginx, unicorn, ruby-rack, socat, procps, curl).
#
#   MIRROR=http://mirror.example/ubuntu images/base/precise/build.sh [TAG]
#
# MIRROR: an Ubuntu mirror that still holds precise (an internal one, or
# http://old-releases.ubuntu.com/ubuntu). The Dockerfile's apt sources point
# there too, so the docker build's containers must reach it as well.
# TAG defaults to the first 12 hex digits of the sha256 of this script, the
# Dockerfile and MIRROR. The result is upstart-unicorn-lab/base-precise:TAG
# and :latest. Idempotent: nothing is done when that image exists (FORCE=1
# rebuilds).
#
# Environment: MIRROR (required), DEBOOTSTRAP_CACHE (default
# /var/cache/upstart-unicorn-lab/debootstrap-precise), TMPDIR_BASE (default
# /var/tmp), PRECISE_KEYRING (default /usr/share/keyrings/ubuntu-archive-keyring.gpg,
# from Ubuntu's ubuntu-keyring package; Debian 12 does not package it: copy
# it from an Ubuntu machine), PRECISE_NO_CHECK_GPG=1 to skip the signature
# check (only for a mirror you trust).
set -eu

REPO=upstart-unicorn-lab/base-precise
ROOTFS_REPO=upstart-unicorn-lab/precise-rootfs
SUITE=precise
KEYRING=${PRECISE_KEYRING:-/usr/share/keyrings/ubuntu-archive-keyring.gpg}

log() { printf '[base-precise] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
[ -n "${MIRROR:-}" ] || die "MIRROR is not set: give an Ubuntu mirror holding precise, e.g. MIRROR=http://old-releases.ubuntu.com/ubuntu"
case $MIRROR in
  http://*|https://*|file:///*) ;;
  *) die "MIRROR=$MIRROR is not an http://, https:// or file:/// URL" ;;
esac
TAG=${1:-$(cat "$0" "$here/Dockerfile" | { cat; printf '%s' "$MIRROR"; } | sha256sum | cut -c1-12)}
IMAGE=$REPO:$TAG

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap needs it)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed: apt-get install -y debootstrap"
[ -e /usr/share/debootstrap/scripts/$SUITE ] || die "this debootstrap does not know $SUITE (no /usr/share/debootstrap/scripts/$SUITE)"
command -v docker >/dev/null 2>&1 || die "docker client is not installed: apt-get install -y docker.io"
docker info >/dev/null 2>&1 || die "Docker is not running: start dockerd (dockerd >/var/log/dockerd.log 2>&1 &)"

gpg_opt=
if [ "${PRECISE_NO_CHECK_GPG:-0}" = 1 ]; then
  gpg_opt=--no-check-gpg
  log "warning: PRECISE_NO_CHECK_GPG=1: packages are not checked against the Ubuntu archive key"
elif [ ! -r "$KEYRING" ]; then
  die "no Ubuntu archive keyring at $KEYRING (Ubuntu's ubuntu-keyring package has it; Debian 12 does not): set PRECISE_KEYRING=FILE, or PRECISE_NO_CHECK_GPG=1 for a mirror you trust"
else
  gpg_opt=--keyring=$KEYRING
fi

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already exists; nothing to do (FORCE=1 rebuilds)"
  docker tag "$IMAGE" "$REPO:latest"
  printf '%s\n' "$IMAGE"
  exit 0
fi

CACHE=${DEBOOTSTRAP_CACHE:-/var/cache/upstart-unicorn-lab/debootstrap-precise}
mkdir -p "$CACHE"
WORK=$(mktemp -d "${TMPDIR_BASE:-/var/tmp}/upstart-unicorn-lab-precise.XXXXXX")
ROOTFS=$WORK/rootfs

cleanup() {
  status=$?
  trap - EXIT INT TERM
  # debootstrap mounts proc/sys inside the target; a failed run can leave them
  # mounted. Unmount (deepest first), never let rm cross into them.
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
log "debootstrap --variant=minbase $SUITE from $MIRROR into $ROOTFS"
# upstart is priority required in 12.04 (minbase has it); named to be sure.
# shellcheck disable=SC2086 # gpg_opt is one word or nothing
debootstrap --variant=minbase --include=upstart --cache-dir="$CACHE" $gpg_opt \
  "$SUITE" "$ROOTFS" "$MIRROR" 2>&1 |
  while IFS= read -r line; do
    case $line in
      I:\ Retrieving*|I:\ Validating*|I:\ Extracting*|I:\ Unpacking*|I:\ Configuring*) ;;
      *) log "  $line" ;;
    esac
  done
[ -x "$ROOTFS/bin/sh" ] && [ -x "$ROOTFS/sbin/init" ] && [ -f "$ROOTFS/var/lib/dpkg/status" ] && [ ! -d "$ROOTFS/debootstrap" ] ||
  die "debootstrap failed (see the lines above)"
log "debootstrap done in $(( $(date +%s) - start ))s"

rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin
ROOTFS_IMAGE=$ROOTFS_REPO:$TAG
log "importing the root filesystem as $ROOTFS_IMAGE"
tar --numeric-owner -C "$ROOTFS" -c . |
  docker import \
    --change 'LABEL upstart-unicorn-lab=1' \
    --change 'LABEL upstart-unicorn-lab.image=precise-rootfs' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    - "$ROOTFS_IMAGE" >/dev/null

log "building $IMAGE from $ROOTFS_IMAGE (apt sources -> $MIRROR)"
docker build --pull=false \
  --build-arg "UBUNTU=$ROOTFS_IMAGE" --build-arg "MIRROR=$MIRROR" \
  --label upstart-unicorn-lab=1 \
  -t "$IMAGE" "$here"
docker tag "$IMAGE" "$REPO:latest"
log "built $IMAGE in $(( $(date +%s) - start ))s"
printf '%s\n' "$IMAGE"
