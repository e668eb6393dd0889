#!/usr/bin/env bash
# Runs Enclave on this machine with embedded defaults: installs what it needs (Debian packages, the
# default guest image), builds, and starts the controller with a local host agent and H2 under
# ENCLAVE_DATA_DIR (default /var/lib/enclave). Prints the API address and an admin token.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_jdk
install_packages
cd "$ROOT"
echo "building Enclave…" >&2
./mvnw -q -B -DskipTests package >&2
build_default_image
exec "$ROOT/bin/enclave-server" "$@"
