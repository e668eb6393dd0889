#!/usr/bin/env bash
# Runs the whole test suite: installs what the tests need, starts a throw-away local PostgreSQL for the
# persistence tests, builds the default guest image (cached), runs every module's tests with Maven, and
# cleans up after itself.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
select_jdk
install_packages
cd "$ROOT"
build_default_image
ENCLAVE_TEST_PG_URL=$("$ROOT/scripts/postgres-for-tests.sh" start)
export ENCLAVE_TEST_PG_URL
trap '"$ROOT/scripts/postgres-for-tests.sh" stop' EXIT
./mvnw -B -ntp verify "$@"
