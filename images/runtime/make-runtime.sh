#!/bin/sh
# make-runtime.sh NODE DEST
# Make DEST a self-contained Node runtime: DEST/bin/node plus, in DEST/lib,
# every shared library `ldd` lists for NODE and the dynamic loader. node is
# patched to use that loader and to look in DEST/lib first.
#
# DT_RPATH (--force-rpath), not DT_RUNPATH: RPATH also applies to libraries
# loaded later by dlopen from libc (NSS modules such as libnss_compat, which an
# older system's /etc/nsswitch.conf asks for), so those come from DEST/lib too
# instead of from the host's (possibly far older) glibc.
set -eu

node=$1
dest=$2
log() { printf '[make-runtime] %s\n' "$*" >&2; }

[ -x "$node" ] || { log "error: $node is not an executable"; exit 1; }
command -v patchelf >/dev/null 2>&1 || { log "error: patchelf is missing in the base image"; exit 1; }

rm -rf "$dest"
mkdir -p "$dest/bin" "$dest/lib"
cp "$node" "$dest/bin/node"
chmod 755 "$dest/bin/node"

# ldd lines:  libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)
#             /lib64/ld-linux-x86-64.so.2 (0x...)
#             linux-vdso.so.1 (0x...)            <- in the kernel, no file
ldd "$node" > /tmp/node.ldd
if grep -q 'not found' /tmp/node.ldd; then
  log "error: libraries missing for $node:"; grep 'not found' /tmp/node.ldd >&2; exit 1
fi
libs=$(awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' /tmp/node.ldd)
interp=
for lib in $libs; do
  cp -L "$lib" "$dest/lib/"
  case $lib in */ld-linux*) interp=$(basename "$lib") ;; esac
  log "copied $lib"
done
[ -n "$interp" ] || { log "error: ldd listed no dynamic loader for $node"; exit 1; }

# NSS modules that glibc loads with dlopen (files and dns are built into glibc
# 2.36; compat is not, and is what Debian and Ubuntu's nsswitch.conf name).
for nss in /lib/x86_64-linux-gnu/libnss_compat.so.2; do
  [ -e "$nss" ] && cp -L "$nss" "$dest/lib/" && log "copied $nss"
done

patchelf --set-interpreter "$dest/lib/$interp" --force-rpath --set-rpath "$dest/lib" "$dest/bin/node"
log "patched: interpreter $(patchelf --print-interpreter "$dest/bin/node"), rpath $(patchelf --print-rpath "$dest/bin/node")"

# Check: every library resolves inside DEST, and the result runs. Ask the
# runtime's own loader (plain ldd would use the system's).
"$dest/lib/$interp" --list "$dest/bin/node" > /tmp/node.ldd
if awk -v d="$dest/" '$2 == "=>" && index($3, d) != 1 { bad = 1; print } END { exit !bad }' /tmp/node.ldd >&2; then
  log "error: the libraries above resolve outside $dest"; exit 1
fi
log "runtime: $("$dest/bin/node" -p 'process.version + " " + process.execPath') ($(du -sh "$dest" | cut -f1))"
rm -f /tmp/node.ldd
