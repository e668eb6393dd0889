# Sourced by the agent-level guest benchmarks: builds the default image and the bench jar, prints the machine
# line, then runs `run_agent_bench <class> <args...>` (a main class in io.enclave.bench) with its log quieted.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

run_agent_bench() {
  local class=$1
  shift
  select_jdk
  cd "$ROOT"
  bash images/default/build.sh "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}/default" >&2
  ./mvnw -q -B -o -DskipTests package -pl enclave-core,enclave-agent,bench -am
  echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(qemu-system-x86_64 --version | head -1), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
  java --enable-native-access=ALL-UNNAMED -Dlogback.configurationFile=/dev/null \
    -cp "bench/target/enclave-bench-0.1.0-SNAPSHOT.jar:bench/target/lib/*" "io.enclave.bench.$class" "$@" 2>&1 \
    | grep -v " DEBUG \| INFO "
}
