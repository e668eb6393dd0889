#!/usr/bin/env bash
# Enclave firewall appliance image builder ("enclave-firewall"): the VM form of a tenant firewall
# (docs/network.md, "The VM-appliance firewall"). The default image plus nftables and dnsmasq, the
# netfilter modules nft needs in the initramfs, and images/firewall/rootfs over the default root
# filesystem (an rcS without DHCP on the NICs: the appliance's addresses come from the platform).
# The build itself is images/lib/build-image.sh; this file is the image's profile.
#
#   images/firewall/build.sh OUTPUT_DIR        # the platform uses /var/cache/enclave/appliances/firewall
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

IMAGE_NAME=enclave-firewall
FS_UUID=7a2d3b5f-6c4e-4d9f-8b10-1f2e3d4c5b6a    # filesystem UUID and htree hash seed
FS_LABEL=enclave-fw
WANT_MODULES=(virtio_pci virtio_console virtio_blk failover net_failover virtio_net button evdev
              pvpanic pvpanic_mmio pvpanic_pci crc32c_generic crc16 mbcache jbd2 ext4
              # what the NftFirewall script uses (nat chains, ct, snat/dnat, counters)
              nf_conntrack nf_nat nf_tables nft_ct nft_nat nft_chain_nat)
GUEST_PKGS=(busybox-static qemu-guest-agent e2fsprogs nftables dnsmasq-base)
EXTRA_BINARIES=(usr/sbin/nft usr/sbin/dnsmasq)
ROOTFS_LAYERS=("$HERE/../default/rootfs" "$HERE/rootfs")
EXTRA_DIRS=(var/lib/misc)                       # dnsmasq's default lease directory
KEY_DIRS=("$HERE/../lib" "$HERE/../default" "$HERE")

source "$HERE/../lib/build-image.sh"
