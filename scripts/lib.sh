# Shared by the scripts: repository root, JDK selection, Debian packages. Source it; do not run it.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

select_jdk() {
  if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "(2[1-9]|[3-9][0-9])'; then
    JAVA_HOME=$(ls -d /usr/lib/jvm/temurin-*-jdk* 2>/dev/null | sort -V | tail -n1)
  fi
  if [ -z "$JAVA_HOME" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    echo "no Java 21+ JDK found: install Temurin 21 or newer under /usr/lib/jvm" >&2
    exit 1
  fi
  export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
}

# Debian packages Enclave needs on a host (and its tests need), installed only if missing.
PACKAGES=(qemu-system-x86 qemu-utils qemu-system-common busybox-static cpio xz-utils zstd e2fsprogs kmod curl iperf3 python3
          iproute2 nftables libnftables1 dnsmasq-base postgresql)

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then echo "run as root to install packages" >&2; exit 1; fi
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

build_default_image() {
  bash "$ROOT/images/default/build.sh" "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}/default" >&2
  bash "$ROOT/images/firewall/build.sh" "${ENCLAVE_FIREWALL_IMAGE:-/var/cache/enclave/appliances/firewall}" >&2
}
