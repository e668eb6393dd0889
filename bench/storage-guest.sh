#!/usr/bin/env bash
# Issue 4 benchmarks inside a real guest (TCG): sequential write and read of 256 MiB to a volume with
# 1 copy and with 3 copies, against a plain file; live snapshot time; resync rate after a device fails.
# Devices are loop-mounted ext4 image files under /tmp/enbs-*; everything is removed at the end.
# Prints RESULT lines; copy them with the machine and date into docs/benchmarks.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
select_jdk
cd "$ROOT"
[ -f enclave-server/target/enclave.jar ] || ./mvnw -q -B -DskipTests package
build_default_image
WORK=$(mktemp -d /tmp/enbs-XXXX); chmod 755 "$WORK"
PORT=18493; URL=http://127.0.0.1:$PORT; SERVER=""; LOOPS=()
cleanup() {
  set +e
  if [ -n "$SERVER" ]; then kill "$SERVER"; wait "$SERVER" 2>/dev/null; fi
  for p in "$WORK"/data/vms/*/qemu.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null; done
  sleep 1
  for d in "$WORK"/dev*; do mountpoint -q "$d" && umount -l "$d"; done
  for l in "${LOOPS[@]}"; do losetup -d "$l"; done
  cp "$WORK/server.log" /tmp/enbs-last-server.log 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
 admin() { TOKEN=$ADMIN api "$@"; }
api() { curl -sf -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"} "$URL$2"; }
guest() { api POST "/v1/vms/$VM/exec" "$(python3 -c 'import json,sys; print(json.dumps({"command":["/bin/sh","-c",sys.argv[1]],"timeoutSeconds":600}))' "$1")" | json 'd["stdout"]'; }
now() { date +%s.%N; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2 3 4; do
  truncate -s 3G "$WORK/dev$i.img"
  l=$(losetup --find --show "$WORK/dev$i.img"); LOOPS+=("$l")
  mkfs.ext4 -q -F -m 0 "$l"; mkdir -p "$WORK/dev$i"; mount "$l" "$WORK/dev$i"
done
bin/enclave-server --data-dir "$WORK/data" --port $PORT --net-prefix ebs >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 150); do curl -sf "$URL/v1/health" >/dev/null && break; sleep 0.2; done
ADMIN=$(cat "$WORK/data/admin-token"); TOKEN=$ADMIN
IDS=()
for i in 1 2 3 4; do IDS+=("$(api POST /v1/storage/devices "{\"path\":\"$WORK/dev$i\"}" | json 'd["id"]')"); done
api POST /v1/storage/pools "{\"name\":\"bench\",\"deviceIds\":[\"${IDS[0]}\",\"${IDS[1]}\",\"${IDS[2]}\",\"${IDS[3]}\"]}" >/dev/null
TENANT=$(api POST /v1/tenants '{"name":"bench","quota":{"vcpus":4,"memoryMib":4096,"diskGib":50,"vms":4}}' | json 'd["id"]')
TOKEN=$(api POST "/v1/tenants/$TENANT/tokens" '{"name":"bench"}' | json 'd["token"]')
IMAGE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "${ENCLAVE_IMAGES_DIR:-/var/cache/enclave/images}/default/manifest.json")
VM=$(api POST /v1/vms "{\"name\":\"bench\",\"vcpus\":1,\"memoryMib\":256,\"diskGib\":2,\"image\":\"$IMAGE\"}" | json 'd["vm"]["id"]')
until [ "$(api GET "/v1/vms/$VM" | json 'd["guestReady"]')" = True ]; do sleep 1; done
V1=$(api POST /v1/volumes '{"name":"one","pool":"bench","sizeGib":1,"copies":1}' | json 'd["id"]')
V3=$(api POST /v1/volumes '{"name":"three","pool":"bench","sizeGib":1,"copies":3}' | json 'd["id"]')
api POST "/v1/volumes/$V1/attach" "{\"vmId\":\"$VM\"}" >/dev/null
until [ -n "$(guest 'cat /sys/block/vdb/size 2>/dev/null')" ]; do sleep 0.5; done
api POST "/v1/volumes/$V3/attach" "{\"vmId\":\"$VM\"}" >/dev/null
until [ -n "$(guest 'cat /sys/block/vdc/size 2>/dev/null')" ]; do sleep 0.5; done

# In the guest: MiB/s of writing (then reading, caches dropped) 256 MiB, timed with /proc/uptime.
measure() { # target (device or file)
  guest "a=\$(cut -d' ' -f1 /proc/uptime); dd if=/dev/zero of=$1 bs=1M count=256 conv=fsync 2>/dev/null; b=\$(cut -d' ' -f1 /proc/uptime);
         echo 3 > /proc/sys/vm/drop_caches; c=\$(cut -d' ' -f1 /proc/uptime); dd if=$1 of=/dev/null bs=1M count=256 2>/dev/null; d=\$(cut -d' ' -f1 /proc/uptime);
         echo \"\$a \$b \$c \$d\"" | awk 'NF == 4 {printf "write %.0f MiB/s, read %.0f MiB/s", 256/($2-$1), 256/($4-$3)}'
}
echo "RESULT in-guest 256 MiB sequential, plain file on the guest's root disk: $(measure /root/plain)"
echo "RESULT in-guest 256 MiB sequential, volume with 1 copy:  $(measure /dev/vdb)"
echo "RESULT in-guest 256 MiB sequential, volume with 3 copies: $(measure /dev/vdc)"
t0=$(now); dd if=/dev/zero of="$WORK/dev1/plain" bs=1M count=256 conv=fsync 2>/dev/null; t1=$(now)
# (a host read is served from the page cache of the loop device's backing file, so only the write counts)
echo "RESULT host 256 MiB sequential write, plain file on a device (no guest): $(echo "$t0 $t1" | awk '{printf "%.0f MiB/s", 256/($2-$1)}')"

for v in "$V1" "$V3"; do
  t0=$(now); api POST "/v1/volumes/$v/snapshots" '{"name":"s1"}' >/dev/null; t1=$(now)
  echo "RESULT live snapshot of $(api GET "/v1/volumes/$v" | json 'str(d["copies"])')-copy volume (256 MiB written): $(echo "$t0 $t1" | awk '{printf "%.0f ms", 1000*($2-$1)}')"
  api DELETE "/v1/volumes/$v/snapshots/s1" >/dev/null
done

# Resync: fail the device under the 3-copy volume's first copy, then rebuild it live on the spare.
FAILED=$(api GET "/v1/volumes/$V3" | json 'd["placement"][0]["deviceId"]')
for i in 0 1 2 3; do [ "${IDS[$i]}" = "$FAILED" ] && N=$((i + 1)); done
for _ in $(seq 1 20); do
  truncate -s 0 "$WORK/dev$N.img"; losetup --set-capacity "${LOOPS[$((N - 1))]}"
  [ "$(cat /sys/block/$(basename "${LOOPS[$((N - 1))]}")/size)" = 0 ] && break
done
guest 'dd if=/dev/vdc of=/dev/null bs=1M count=16 2>/dev/null; echo 3 > /proc/sys/vm/drop_caches' >/dev/null
admin GET /v1/storage/devices >/dev/null
t0=$(now); OP=$(admin POST "/v1/volumes/$V3/resync" '{}' | json 'd["id"]')
until [ "$(api GET "/v1/operations/$OP" | json 'd["status"]')" != running ] && [ "$(api GET "/v1/operations/$OP" | json 'd["status"]')" != pending ]; do sleep 0.1; done
t1=$(now)
echo "RESULT live resync of one copy of a 1 GiB 3-copy volume (256 MiB allocated): $(api GET "/v1/operations/$OP" | json 'd["status"]') in $(echo "$t0 $t1" | awk '{printf "%.2f s = %.0f MiB/s of allocated data", $2-$1, 256/($2-$1)}'), health now $(api GET "/v1/volumes/$V3" | json 'd["health"]')"
