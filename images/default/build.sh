#!/usr/bin/env bash
# Enclave default guest image builder ("debian-busybox"): busybox, qemu-ga and resize2fs on a Debian
# kernel (README.md). The build itself is images/lib/build-image.sh; this file is the image's profile.
#
#   images/default/build.sh OUTPUT_DIR
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

IMAGE_NAME=debian-busybox
FS_UUID=6f1c2a4e-5b3d-4c8e-9a7f-0e1d2c3b4a59    # filesystem UUID and htree hash seed
FS_LABEL=enclave-root
WANT_MODULES=(virtio_pci virtio_console virtio_blk failover net_failover virtio_net button evdev
              pvpanic pvpanic_mmio pvpanic_pci crc32c_generic crc16 mbcache jbd2 ext4)
GUEST_PKGS=(busybox-static qemu-guest-agent e2fsprogs)
EXTRA_BINARIES=()
ROOTFS_LAYERS=("$HERE/rootfs")
EXTRA_DIRS=()
KEY_DIRS=("$HERE/../lib" "$HERE")

source "$HERE/../lib/build-image.sh"
