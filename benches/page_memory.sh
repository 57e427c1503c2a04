#!/usr/bin/env bash
# Candor's memory while it serves its page under load (issue 19: peak RSS
# under 20 MB at 64 to 256 connections), and what that memory is made of.
#
#   bash benches/page_memory.sh                     # builds the tree
#   CANDOR_BASELINE_BIN=old/candor CANDOR_BIN=new/candor REPEAT=3 bash benches/page_memory.sh
#
# Each run starts a fresh Candor (release build, SQLite, mail to files) and
# reads its memory from /proc: after start, after 20 components and an open
# incident were posted, and after wrk asked for `/` for DURATION seconds at
# each of CONNECTIONS (one process, so the peak at 256 includes the run at
# 64); one such process for each of CODINGS (Accept-Encoding: br, as
# browsers ask, and identity, wrk's own way). Printed per run: peak RSS (VmHWM), and at that moment the
# anonymous memory (heap, stacks), the file pages (code and read-only data
# of Candor and the C libraries) and Candor's own machine code resident.
# Then the medians per binary and connection count, and the ratio to the
# baseline when there is one. Runs of the two binaries alternate. A script
# that prints numbers, not a test. Loopback only; bounded in time.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-4}
CONNECTIONS=${CONNECTIONS:-"64 256"}
REPEAT=${REPEAT:-3}
# What wrk accepts: br as browsers do, identity as wrk does unless told.
CODINGS=${CODINGS:-"br identity"}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "benches/page_memory.sh needs: ${need[*]}" >&2
    exit 1
  fi
fi
[ -n "${CANDOR_BIN:-}" ] || cargo build --release --quiet --bin candor
BIN=$(realpath "${CANDOR_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/candor}")
BASELINE_BIN=${CANDOR_BASELINE_BIN:-}
[ -z "$BASELINE_BIN" ] || BASELINE_BIN=$(realpath "$BASELINE_BIN")

WORK=$(mktemp -d /tmp/candor-page-memory.XXXXXX)
PID=""
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
TOKEN=bench-token
admin() {
  curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"
}
json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# "peak anon file code" in MB: VmHWM, RssAnon, RssFile, and the resident
# part of the binary's executable mapping.
memory() { # PID BIN
  local status code
  status=$(awk '/^(VmHWM|RssAnon|RssFile):/ { printf "%.1f ", $2 / 1024 }' "/proc/$1/status")
  code=$(awk -v bin="$2" '/^[0-9a-f]+-[0-9a-f]+ / { here = ($2 ~ /x/ && $6 == bin) }
    here && /^Rss:/ { kb += $2 } END { printf "%.1f", kb / 1024 }' "/proc/$1/smaps")
  echo "$status$code"
}

run() { # NAME BIN REPEAT_NUMBER CODING
  local dir="$WORK/$1.$3.$4" port url ids=() i
  mkdir -p "$dir"
  port=$(free_port)
  url="http://127.0.0.1:$port"
  (cd "$dir" && exec env $(env | grep -o '^CANDOR_[A-Z_]*' | sed 's/^/-u /') \
    CANDOR_DATABASE_URL="sqlite://$dir/candor.db" CANDOR_LISTEN="127.0.0.1:$port" \
    CANDOR_ADMIN_TOKEN="$TOKEN" CANDOR_MAIL_DIR="$dir/outbox" CANDOR_PAGE_NAME="Acme IT" \
    "$2" serve) >"$dir/log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "$1 $4 $3 start $(memory "$PID" "$2")" >>"$WORK/results"
  for i in $(seq 20); do
    ids+=("$(admin -d "{\"name\": \"Component $i\", \"description\": \"Component $i for all offices\", \"position\": $i}" \
      "$url/api/v1/components" | json_id)")
  done
  admin -d "{\"title\": \"Delayed outbound email\", \"impact\": \"major\", \"status\": \"investigating\",
    \"owner\": {\"name\": \"Dana (IT Ops)\", \"email\": \"dana@bench.test\"}, \"next_update_in\": 60,
    \"components\": {\"${ids[0]}\": \"partial_outage\"}, \"message\": \"Outbound email is delayed.\"}" \
    "$url/api/v1/incidents" >/dev/null
  echo "$1 $4 $3 seeded $(memory "$PID" "$2")" >>"$WORK/results"
  for c in $CONNECTIONS; do
    wrk -t2 -c"$c" -d"${DURATION}s" -H "Accept-Encoding: $4" "$url/" >"$dir/wrk.$c"
    echo "$1 $4 $3 c$c $(memory "$PID" "$2") $(awk '/Requests\/sec/ { printf "%.0f", $2 }' "$dir/wrk.$c")" >>"$WORK/results"
  done
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
}

for r in $(seq "$REPEAT"); do
  for coding in $CODINGS; do
    if [ -n "$BASELINE_BIN" ] && [ $((r % 2)) -eq 1 ]; then
      run baseline "$BASELINE_BIN" "$r" "$coding"
      run candor "$BIN" "$r" "$coding"
    else
      run candor "$BIN" "$r" "$coding"
      [ -z "$BASELINE_BIN" ] || run baseline "$BASELINE_BIN" "$r" "$coding"
    fi
  done
done

echo
printf '%-9s %-9s %-3s %-7s %8s %6s %6s %6s %8s\n' build coding run when "peak MB" anon file code "req/s"
sort -k1,1 -k2,2 -k3,3n "$WORK/results" | awk '{ printf "%-9s %-9s %-3s %-7s %8s %6s %6s %6s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
echo
echo "medians of $REPEAT (MB):"
python3 - "$WORK/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
builds = [b for b in ("candor", "baseline") if any(r[0] == b for r in rows)]
keys = []
for r in rows:
    if (r[1], r[3]) not in keys:
        keys.append((r[1], r[3]))
def median(build, key, column):
    values = [float(r[column]) for r in rows if r[0] == build and (r[1], r[3]) == key]
    return statistics.median(values)
head = f"{'coding':9} {'when':7}"
for b in builds:
    head += f" | {b:>8} peak   anon   file   code"
if len(builds) == 2:
    head += " | peak ratio"
print(head)
for key in keys:
    line = f"{key[0]:9} {key[1]:7}"
    for b in builds:
        line += " | " + " ".join(f"{median(b, key, c):>{13 if c == 4 else 6}.1f}" for c in (4, 5, 6, 7))
    if len(builds) == 2:
        line += f" | {median('candor', key, 4) / median('baseline', key, 4):10.2f}"
    print(line)
PY
