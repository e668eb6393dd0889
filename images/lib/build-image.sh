#!/usr/bin/env bash
# Builds one Enclave guest image from Debian packages; sourced by an image's own build.sh (its
# "profile"), which sets SELF (its path: re-run after a stale apt list), IMAGE_NAME, FS_UUID, FS_LABEL,
# WANT_MODULES (initramfs modules; dependencies added from modules.dep, built-ins skipped),
# GUEST_PKGS, EXTRA_BINARIES (sysroot paths installed with their library closure besides qemu-ga and
# resize2fs), ROOTFS_LAYERS (directories overlaid in order onto the root filesystem), EXTRA_DIRS and
# KEY_DIRS (directories whose files, except README.md, are part of the cache key; this one among them).
#
# Produces OUTPUT_DIR/{vmlinuz,initrd.img,disk.qcow2,manifest.json,build-info.txt}. The kernel comes
# from the newest linux-image-*-amd64-unsigned apt knows; packages are downloaded with apt-get and
# extracted with dpkg-deb (nothing is installed into the host for the guest).
#
# Cached: the key ("version" in manifest.json) is a hash of the KEY_DIRS files, the exact versions of
# the guest packages and of the host tools that write the images. If OUTPUT_DIR/manifest.json carries
# the same key, the build exits 0 at once. Reproducible: the same key gives the same bytes.
set -euo pipefail

die() { echo "build.sh: error: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

[ $# -eq 1 ] || { echo "usage: $SELF OUTPUT_DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, device nodes, file ownership)"

LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEFAULT=$(cd "$LIB/../default" && pwd)       # its init-initramfs and mke2fs.conf serve every image
OUT=$(realpath -m -- "$1")
export LC_ALL=C TZ=UTC DEBIAN_FRONTEND=noninteractive
umask 022

# ---------------------------------------------------------------------------
# Fixed parameters of every image (part of this file, hence of every cache key).
FORMAT=1
EPOCH=1704067200                                # 2024-01-01T00:00:00Z
export SOURCE_DATE_EPOCH=$EPOCH
DISK_SIZE=128M                                  # virtual size of disk.qcow2
CMDLINE="console=ttyS0 root=/dev/vda rw quiet"
HOST_PKGS=(cpio gzip xz-utils zstd e2fsprogs qemu-utils kmod binutils util-linux)
for v in IMAGE_NAME FS_UUID FS_LABEL; do [ -n "${!v:-}" ] || die "the image profile sets no $v"; done
[ ${#WANT_MODULES[@]} -gt 0 ] && [ ${#GUEST_PKGS[@]} -gt 0 ] && [ ${#ROOTFS_LAYERS[@]} -gt 0 ] && [ ${#KEY_DIRS[@]} -gt 0 ] \
    || die "the image profile must set WANT_MODULES, GUEST_PKGS, ROOTFS_LAYERS and KEY_DIRS"
# ---------------------------------------------------------------------------

# ---- host tools (idempotent) ----------------------------------------------
APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 0 ] || return 1
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
}

missing=()
for p in "${HOST_PKGS[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing host packages: ${missing[*]}"
    if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
        apt_update_once
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    fi
fi

# ---- resolve exact package versions ----------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/enclave-image.XXXXXX")
STAGE=
trap 'rm -rf "$WORK" ${STAGE:+"$STAGE"}' EXIT
# Debian container images disable apt's binary cache, which makes every apt-cache
# call parse all package lists (~1 s); use a private cache for this run.
APTC=(apt-cache -o "Dir::Cache::pkgcache=$WORK/pkgcache.bin")
candidate() { "${APTC[@]}" policy -- "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }'; }

newest_kernel() {
    # newest Debian linux-image-<version>-amd64-unsigned (not -rt-/-cloud-) known to apt
    "${APTC[@]}" search --names-only '^linux-image-[0-9].*[0-9]-amd64-unsigned$' \
        | awk '{ print $1 }' | sort -V | tail -n 1
}

KPKG=${ENCLAVE_KERNEL_PACKAGE:-}
if [ -z "$KPKG" ]; then
    KPKG=$(newest_kernel)
    if [ -z "$KPKG" ]; then apt_update_once; KPKG=$(newest_kernel); fi
fi
[ -n "$KPKG" ] || die "no linux-image-*-amd64-unsigned package known to apt"
kv=$(candidate "$KPKG")
if [ -z "$kv" ] || [ "$kv" = "(none)" ]; then
    apt_update_once || true
fi

# Library closure (Depends/Pre-Depends on lib* packages) of the guest packages.
lib_closure() {
    "${APTC[@]}" depends --recurse --important "$@" | awk -v roots="$*" '
        /^[^ ]/ { pkg = $1; next }
        $1 ~ /^\|?(Pre)?Depends:$/ && $2 !~ /^</ {
            d = $2; sub(/:any$/, "", d)
            if (d ~ /^(lib|zlib)/) edges[pkg] = edges[pkg] " " d
        }
        END {
            n = split(roots, queue, " ")
            for (i = 1; i <= n; i++) seen[queue[i]] = 1
            for (i = 1; i <= n; i++) {
                m = split(edges[queue[i]], ds, " ")
                for (j = 1; j <= m; j++) if (!(ds[j] in seen)) { seen[ds[j]] = 1; queue[++n] = ds[j] }
            }
            for (p in seen) print p
        }' | sort
}

mapfile -t ALL_PKGS < <( { echo "$KPKG"; lib_closure "${GUEST_PKGS[@]}"; } | sort -u)
[ ${#ALL_PKGS[@]} -gt ${#GUEST_PKGS[@]} ] || die "cannot resolve the guest packages' dependencies"
declare -A CAND=()
while read -r p v; do CAND[$p]=$v; done < <("${APTC[@]}" policy -- "${ALL_PKGS[@]}" 2>/dev/null \
    | awk '/^[^ ].*:$/ { p = substr($0, 1, length($0) - 1); sub(/:amd64$/, "", p) }
           $1 == "Candidate:" { print p, $2 }')
PINNED=()
for p in "${ALL_PKGS[@]}"; do
    v=${CAND[$p]:-}
    [ -n "$v" ] && [ "$v" != "(none)" ] || die "package $p has no installable version (apt-get update?)"
    PINNED+=("$p=$v")
done

# ---- cache key ---------------------------------------------------------------
key_input() {
    echo "enclave-image $IMAGE_NAME format $FORMAT"
    for d in "${KEY_DIRS[@]}"; do
        echo "dir ${d##*/}"
        (cd "$d" && find . -type f ! -name README.md -print0 | sort -z | xargs -0 sha256sum)
    done
    printf 'guest %s\n' "${PINNED[@]}"
    for p in "${HOST_PKGS[@]}"; do
        printf 'host %s=%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p")"
    done
}
KEY=$(key_input | sha256sum | cut -c1-16)

up_to_date() {
    [ -f "$OUT/manifest.json" ] && [ -f "$OUT/vmlinuz" ] && [ -f "$OUT/initrd.img" ] \
        && [ -f "$OUT/disk.qcow2" ] && grep -q "\"version\": \"$KEY\"" "$OUT/manifest.json"
}
if up_to_date; then log "$OUT is up to date (version $KEY)"; exit 0; fi

mkdir -p "$(dirname "$OUT")"
exec 9>"$OUT.lock"
flock 9
if up_to_date; then log "$OUT is up to date (version $KEY)"; exit 0; fi

log "building $IMAGE_NAME version $KEY into $OUT (kernel package $KPKG)"
STAGE=$(mktemp -d "$(dirname "$OUT")/.$(basename "$OUT").new.XXXXXX")

# ---- download and extract ------------------------------------------------------
mkdir "$WORK/debs"
if ! (cd "$WORK/debs" && apt-get -qq -o APT::Sandbox::User=root -o "Dir::Cache::pkgcache=$WORK/pkgcache.bin" download "${PINNED[@]}" >&2); then
    # stale package lists (a pinned version left the archive): refresh and start over
    [ -z "${ENCLAVE_IMAGE_RETRIED:-}" ] || die "apt-get download failed"
    apt-get update -qq >&2
    rm -rf "$WORK" "$STAGE"; trap - EXIT
    exec 9>&-
    ENCLAVE_IMAGE_RETRIED=1 exec "$SELF" "$OUT"
fi

KX="$WORK/kernel"; SX="$WORK/sysroot"
mkdir "$KX" "$SX"
for deb in "$WORK"/debs/*.deb; do
    name=$(dpkg-deb -f "$deb" Package)
    if [ "$name" = "$KPKG" ]; then dpkg-deb -x "$deb" "$KX"; else dpkg-deb -x "$deb" "$SX"; fi
done

MODROOT=lib/modules
[ -d "$KX/$MODROOT" ] || MODROOT=usr/lib/modules
KVER=$(ls "$KX/$MODROOT")
[ "$(echo "$KVER" | wc -l)" -eq 1 ] || die "expected one kernel version in $KPKG, got: $KVER"
MODDIR="$KX/$MODROOT/$KVER"
VMLINUZ="$KX/boot/vmlinuz-$KVER"
[ -f "$VMLINUZ" ] || die "no boot/vmlinuz-$KVER in $KPKG"
if [ "$MODROOT" = lib/modules ]; then depmod -b "$KX" "$KVER"
else depmod -b "$KX/usr" "$KVER"; fi

# ---- kernel modules ----------------------------------------------------------------
# module name of a path: basename without .ko*, "-" -> "_"; result in $NORM (no subshell)
norm() { NORM=${1##*/}; NORM=${NORM%%.ko*}; NORM=${NORM//-/_}; }
declare -A BUILTIN=() MODPATH=() MODDEPS=()
while read -r f; do norm "$f"; BUILTIN[$NORM]=1; done < "$MODDIR/modules.builtin"
while IFS= read -r line; do
    f=${line%%:*}
    norm "$f"; MODPATH[$NORM]=$f
    MODDEPS[$f]=${line#*:}
done < "$MODDIR/modules.dep"

declare -A MOD_DONE=()
MOD_ORDER=()
add_modpath() {
    # "i" must be local: shared across the recursion it loads a module before its dependencies
    # once the closure is deeper than one level (nf_conntrack)
    local path=$1 d deps=() i
    [ -z "${MOD_DONE[$path]:-}" ] || return 0
    MOD_DONE[$path]=1
    read -ra deps <<< "${MODDEPS[$path]}"
    # modules.dep lists the full closure, the last entry being loaded first
    for (( i=${#deps[@]}-1; i>=0; i-- )); do add_modpath "${deps[$i]}"; done
    MOD_ORDER+=("$path")
}
MODS_BUILTIN=()
for m in "${WANT_MODULES[@]}"; do
    norm "$m"; n=$NORM
    if [ -n "${BUILTIN[$n]:-}" ]; then MODS_BUILTIN+=("$n")
    elif [ -n "${MODPATH[$n]:-}" ]; then add_modpath "${MODPATH[$n]}"
    else die "kernel module $m is neither built in nor shipped by $KPKG"
    fi
done

# ---- initramfs ----------------------------------------------------------------------
I="$WORK/initramfs"
mkdir -p "$I"/{bin,dev,etc,proc,sys,newroot,lib/modules}
install -m 0755 "$SX/bin/busybox" "$I/bin/busybox"
"$I/bin/busybox" --list | while IFS= read -r a; do
    [ "$a" = busybox ] || ln -s busybox "$I/bin/$a"
done
mknod -m 0600 "$I/dev/console" c 5 1
mknod -m 0666 "$I/dev/null" c 1 3
install -m 0755 "$DEFAULT/init-initramfs" "$I/init"
: > "$I/etc/modules.load"
for path in "${MOD_ORDER[@]}"; do
    norm "$path"; n=$NORM
    case "$path" in
        *.ko.xz)  xz -dc "$MODDIR/$path" > "$I/lib/modules/$n.ko" ;;
        *.ko.zst) zstd -qdc "$MODDIR/$path" > "$I/lib/modules/$n.ko" ;;
        *.ko.gz)  gzip -dc "$MODDIR/$path" > "$I/lib/modules/$n.ko" ;;
        *.ko)     cat "$MODDIR/$path" > "$I/lib/modules/$n.ko" ;;
        *) die "unknown module file $path" ;;
    esac
    chmod 0644 "$I/lib/modules/$n.ko"
    echo "$n" >> "$I/etc/modules.load"
done

normalize_tree() { find "$1" -exec touch -h -d "@$EPOCH" {} +; }
normalize_tree "$I"
(cd "$I" && find . -mindepth 1 -print0 | sort -z \
    | cpio -o -0 -H newc --reproducible -R 0:0 --quiet) | gzip -n -9 > "$STAGE/initrd.img"

# ---- root filesystem ------------------------------------------------------------------
R="$WORK/rootfs"
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/x86_64-linux-gnu,lib64,etc,dev,proc,sys,run,mnt,root,var/log,var/lib,var/tmp}
install -d -m 1777 "$R/tmp"
chmod 0700 "$R/root"
ln -s ../run "$R/var/run"
ln -s ../proc/self/mounts "$R/etc/mtab"
mknod -m 0600 "$R/dev/console" c 5 1
mknod -m 0666 "$R/dev/null" c 1 3

install -m 0755 "$SX/bin/busybox" "$R/bin/busybox"
"$R/bin/busybox" --list-full | while IFS= read -r p; do
    case "$p" in */*) ;; *) continue ;; esac        # e.g. "linuxrc"
    [ -e "$R/$p" ] || [ -L "$R/$p" ] || ln -s /bin/busybox "$R/$p"
done
install -m 0755 "$SX/usr/sbin/qemu-ga" "$R/usr/sbin/qemu-ga"
install -m 0755 "$SX/sbin/resize2fs" "$R/sbin/resize2fs"
for b in "${EXTRA_BINARIES[@]}"; do install -m 0755 "$SX/$b" "$R/$b"; done

# shared libraries: NEEDED closure resolved inside the extracted packages only
LIBDIRS=("$SX/lib/x86_64-linux-gnu" "$SX/usr/lib/x86_64-linux-gnu")
declare -A LIB_DONE=()
find_lib() {
    local d
    for d in "${LIBDIRS[@]}"; do [ -e "$d/$1" ] && { echo "$d/$1"; return 0; }; done
    return 1
}
copy_needed() {
    local elf=$1 so f
    for so in $(readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
        [ -z "${LIB_DONE[$so]:-}" ] || continue
        LIB_DONE[$so]=1
        f=$(find_lib "$so") || die "library $so (needed by ${elf##*/}) not found in the guest packages"
        cp -L "$f" "$R/lib/x86_64-linux-gnu/$so"
        chmod 0644 "$R/lib/x86_64-linux-gnu/$so"
        copy_needed "$f"
    done
}
for elf in "$R/usr/sbin/qemu-ga" "$R/sbin/resize2fs" "${EXTRA_BINARIES[@]/#/$R/}"; do
    copy_needed "$elf"
    interp=$(readelf -l "$elf" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
    [ -n "$interp" ] || continue
    so=${interp##*/}
    if [ -z "${LIB_DONE[$so]:-}" ]; then
        LIB_DONE[$so]=1
        f=$(find_lib "$so") || die "dynamic loader $so not found"
        cp -L "$f" "$R/lib/x86_64-linux-gnu/$so"
    fi
    chmod 0755 "$R/lib/x86_64-linux-gnu/$so"
    if [ "$interp" != "/lib/x86_64-linux-gnu/$so" ] && [ ! -e "$R$interp" ]; then
        mkdir -p "$R${interp%/*}"
        ln -s "/lib/x86_64-linux-gnu/$so" "$R$interp"
    fi
done

# configuration and scripts, the profile's layers in order, later ones over earlier ones (shebang => 0755)
for SRC in "${ROOTFS_LAYERS[@]}"; do
    (cd "$SRC" && find . -type d | sort) | while read -r d; do mkdir -p "$R/$d"; done
    (cd "$SRC" && find . -type f | sort) | while read -r f; do
        rm -f "$R/$f"
        if [ "$(head -c 2 "$SRC/$f")" = '#!' ]; then mode=0755; else mode=0644; fi
        install -m "$mode" "$SRC/$f" "$R/$f"
    done
done
for d in "${EXTRA_DIRS[@]}"; do mkdir -p "$R/$d"; done
chmod 0640 "$R/etc/shadow"
# Debian's busybox udhcpc looks for /etc/udhcpc/default.script
mkdir -p "$R/etc/udhcpc"
ln -s /usr/share/udhcpc/default.script "$R/etc/udhcpc/default.script"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
printf '%s %s\n' "$IMAGE_NAME" "$KEY" > "$R/etc/enclave-image"

normalize_tree "$R"
ROOTIMG="$WORK/root.img"
MKE2FS_CONFIG="$DEFAULT/mke2fs.conf" E2FSPROGS_FAKE_TIME=$EPOCH \
    mke2fs -q -F -t ext4 -T default -L "$FS_LABEL" -U "$FS_UUID" \
    -E "hash_seed=$FS_UUID,lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0" \
    -d "$R" "$ROOTIMG" "$DISK_SIZE" > /dev/null
# mke2fs -d copies the host's ctime (and atime as it reads): pin every inode's times
(cd "$R" && find . -print | sort) | sed 's|^\.||; s|^$|/|' | while IFS= read -r p; do
    for field in atime mtime ctime crtime; do printf 'sif "%s" %s @%s\n' "$p" "$field" "$EPOCH"; done
done > "$WORK/fixtimes.debugfs"
E2FSPROGS_FAKE_TIME=$EPOCH debugfs -w -f "$WORK/fixtimes.debugfs" "$ROOTIMG" > "$WORK/debugfs.log" 2>&1
if grep -v -e '^debugfs [0-9]' -e '^debugfs: sif ' "$WORK/debugfs.log" | grep -q .; then
    cat "$WORK/debugfs.log" >&2; die "debugfs time fix-up failed"
fi
e2fsck -fn "$ROOTIMG" > "$WORK/e2fsck.log" 2>&1 || { cat "$WORK/e2fsck.log" >&2; die "e2fsck found errors"; }
qemu-img convert -q -f raw -O qcow2 -o compat=1.1,cluster_size=65536 "$ROOTIMG" "$STAGE/disk.qcow2"

# ---- kernel, manifest ---------------------------------------------------------------------
install -m 0644 "$VMLINUZ" "$STAGE/vmlinuz"
{
    echo "name: $IMAGE_NAME"
    echo "version: $KEY"
    echo "kernel: $KPKG ($KVER)"
    echo "cmdline: $CMDLINE"
    echo "modules (initramfs, load order): $(tr '\n' ' ' < "$I/etc/modules.load")"
    echo "modules built in: ${MODS_BUILTIN[*]}"
    echo "guest libraries: $(printf '%s\n' "${!LIB_DONE[@]}" | sort | tr '\n' ' ')"
    echo "packages:"
    printf '  %s\n' "${PINNED[@]}"
    echo "host tools:"
    for p in "${HOST_PKGS[@]}"; do printf '  %s=%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p")"; done
} > "$STAGE/build-info.txt"
cat > "$STAGE/manifest.json" <<EOF
{
  "name": "$IMAGE_NAME",
  "kernel": "vmlinuz",
  "initrd": "initrd.img",
  "disk": "disk.qcow2",
  "cmdline": "$CMDLINE",
  "guestAgent": true,
  "version": "$KEY"
}
EOF
chmod 0644 "$STAGE"/*
chmod 0755 "$STAGE"
touch -d "@$EPOCH" "$STAGE"/*

# ---- atomic install ------------------------------------------------------------------------
if [ -e "$OUT" ]; then
    OLD="$OUT.old.$$"
    mv -T "$OUT" "$OLD"
    mv -T "$STAGE" "$OUT"
    rm -rf "$OLD"
else
    mv -T "$STAGE" "$OUT"
fi
log "done: $OUT (version $KEY, $(du -sh --apparent-size "$OUT" | cut -f1))"
