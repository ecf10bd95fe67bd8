#!/usr/bin/env bash
# The benchmark's work filesystem: a journaled ext4 in a sparse image file, loop-mounted.
#   bench/workfs.sh up   IMG MNT [SIZE [BYTES_PER_INODE]]   # create the image once, mount it (idempotent);
#                                                         # exit 1 if impossible
#   bench/workfs.sh down IMG MNT          # fstrim, unmount, detach the loop device (idempotent)
# Why: a root filesystem that is ext4 *without* a journal (as on the reference VM) makes file
# creation right after a mass delete cost 0.2-5 s of kernel time per 10,000 files, at random
# (the inode allocator skips recently freed inodes by a linear scan). Both tools delete and
# recreate tens of thousands of files per run, so timings there would measure that, not the tools.
# A journaled ext4 does not do that check. The loop device uses direct I/O (no double page cache).
set -euo pipefail
cmd=${1:?up or down}; IMG=${2:?image path}; MNT=${3:?mount point}; SIZE=${4:-24G}; INODE_RATIO=${5:-}
say() { printf '[%(%H:%M:%S)T] workfs: %s\n' -1 "$*" >&2; }

if [ "$cmd" = down ]; then
  if mountpoint -q "$MNT"; then
    dev=$(findmnt -n -o SOURCE "$MNT")
    fstrim "$MNT" 2>/dev/null || true
    umount "$MNT"
    losetup -d "$dev" 2>/dev/null || true
    say "unmounted $MNT ($dev)"
  fi
  exit 0
fi

if mountpoint -q "$MNT"; then
  if [ "$(findmnt -n -o FSTYPE "$MNT")" = ext4 ] && [ -n "$(findmnt -n -o SOURCE "$MNT" | grep /dev/loop)" ]; then
    say "$MNT already mounted ($(findmnt -n -o SOURCE,FSTYPE "$MNT"))"; exit 0
  fi
  say "$MNT is a mount point but not our ext4 loop image"; exit 1
fi
[ "$(id -u)" = 0 ] || { say "not root: cannot loop-mount"; exit 1; }
for t in losetup mkfs.ext4 mount findmnt; do command -v "$t" >/dev/null || { say "$t missing"; exit 1; }; done
mkdir -p "$(dirname "$IMG")" "$MNT"
if [ ! -f "$IMG" ]; then
  truncate -s "$SIZE" "$IMG"
  mkfs.ext4 -q -F -L ferrybench ${INODE_RATIO:+-i "$INODE_RATIO"} "$IMG" || { rm -f "$IMG"; say "mkfs.ext4 failed"; exit 1; }
  say "created $IMG ($SIZE sparse, ext4 with journal)"
fi
dev=$(losetup --find --show --direct-io=on "$IMG" 2>/dev/null || losetup --find --show "$IMG") \
  || { say "no loop device available"; exit 1; }
if ! mount -o noatime "$dev" "$MNT"; then losetup -d "$dev" || true; say "mount failed"; exit 1; fi
say "mounted $IMG on $MNT via $dev"
