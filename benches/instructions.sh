#!/usr/bin/env bash
# Instructions per request and per mail, counted by callgrind: unlike CPU
# time, the same binary and inputs give the same count whatever else the
# machine is doing, so two builds compare to the percent on a noisy machine.
#
#   CANDOR_BASELINE_BIN=old/candor CANDOR_BIN=new/candor bash benches/instructions.sh
#   REQUESTS=1500 MAILS=2000 bash benches/instructions.sh   # (builds the tree)
#
# For each binary: a fresh SQLite database with 20 components and an open
# incident; REQUESTS keep-alive GETs of `/` and of `/api/v2/summary.json`
# answered from the page cache (started just after a minute turns, as the
# page's relative times change each minute; a count that caught a rendering
# says so); then one update mailed to MAILS confirmed subscribers through
# postfix's smtp-sink. Counts only what runs between the first request (or
# the POST) and the last answer (or mail); user space only, not the kernel.
# Needs valgrind, curl, sqlite3, python3, smtp-sink (Debian: valgrind,
# postfix; installed when missing and root). Loopback only; bounded.
set -euo pipefail

cd "$(dirname "$0")/.."
REQUESTS=${REQUESTS:-1500}
MAILS=${MAILS:-2000}

need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v smtp-sink >/dev/null || need+=(postfix)
command -v sqlite3 >/dev/null || need+=(sqlite3)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "benches/instructions.sh needs: ${need[*]}" >&2
    exit 1
  fi
fi
[ -n "${CANDOR_BIN:-}" ] || cargo build --release --quiet --bin candor
BIN="${CANDOR_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/candor}"
SINK_USER=()
[ "$(id -u)" -eq 0 ] && SINK_USER=(-u nobody)

WORK=$(mktemp -d /tmp/candor-instructions.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
TOKEN=bench-token

# Starts BIN under callgrind (counting off) in DIR; sets URL and PID.
start() { # BIN DIR SMTP_PORT
  local port
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  (cd "$2" && exec env $(env | grep -o '^CANDOR_[A-Z_]*' | sed 's/^/-u /') RUST_LOG=warn \
    CANDOR_DATABASE_URL="sqlite://$2/candor.db" CANDOR_LISTEN="127.0.0.1:$port" \
    CANDOR_ADMIN_TOKEN="$TOKEN" CANDOR_SMTP_URL="smtp://127.0.0.1:$3" \
    CANDOR_MAIL_FROM="Status <status@bench.test>" CANDOR_PAGE_NAME="Acme IT" \
    CANDOR_TIME_ZONE="Europe/Berlin" \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$2/cg.out" \
    "$1" serve >"$2/log" 2>&1) &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 600); do
    curl -fsS "$URL/healthz" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "candor did not start under valgrind" >&2
  exit 1
}
api() { # METHOD PATH [JSON]
  curl -fsS -X "$1" "$URL/api/v1$2" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"}
}
json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
# The instructions counted since the last dump (a new file each time).
counted() { # DIR
  callgrind_control -i off "$PID" >/dev/null
  callgrind_control -d "$PID" >/dev/null
  local file
  file=$(ls -t "$1"/cg.out.* | head -1)
  callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }'
  # A rendering of a page (maud views, brotli) inside the count is noted.
  if callgrind_annotate --threshold=100 "$file" 2>/dev/null | grep -qE 'candor::views|brotli'; then
    echo "note: a page was rendered during this count" >&2
  fi
}

measure() { # NAME BIN
  local dir="$WORK/$1" sport sink component incident path now_ms
  mkdir -p "$dir"
  sport=$(free_port)
  smtp-sink -c "${SINK_USER[@]}" "127.0.0.1:$sport" 1024 >"$dir/sink.log" 2>&1 &
  sink=$!
  PIDS+=("$sink")
  start "$2" "$dir" "$sport"
  local ids=()
  for i in $(seq 20); do
    ids+=("$(api POST /components "{\"name\": \"Component $i\", \"position\": $i}" | json_id)")
  done
  incident=$(api POST /incidents "{\"title\": \"Delayed outbound email\", \"impact\": \"major\",
    \"status\": \"investigating\", \"owner\": {\"name\": \"Dana (IT Ops)\", \"email\": \"dana@bench.test\"},
    \"next_update_in\": 60, \"components\": {\"${ids[0]}\": \"partial_outage\"},
    \"message\": \"Outbound email is delayed by up to an hour.\"}" | json_id)
  sleep 2 # the opening's own mails (to no one yet) and page renders settle
  for path in / /api/v2/summary.json; do
    while [ "$(date +%S)" -gt 2 ]; do sleep 0.5; done
    sleep 1.5
    curl -fsS -o /dev/null "$URL$path"
    local urls
    urls=$(for _ in $(seq "$REQUESTS"); do printf '%s ' "$URL$path"; done)
    callgrind_control -i on "$PID" >/dev/null
    # shellcheck disable=SC2086
    curl -fsS $urls >/dev/null
    echo "$1 $path $(($(counted "$dir") / REQUESTS))" >>"$WORK/results"
  done
  now_ms=$(($(date +%s%N) / 1000000))
  sqlite3 -bail "$dir/candor.db" <<SQL
.timeout 10000
INSERT INTO subscribers (id, channel, address, state, all_components, created_at, confirm_sent_at, confirmed_at, unsubscribed_at)
WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < $MAILS)
SELECT lower(hex(randomblob(4))) || substr('0000000' || n, -7, 7), 'email', 'reader' || n || '@bench.test',
  'confirmed', TRUE, $now_ms, NULL, $now_ms, NULL FROM seq;
SQL
  callgrind_control -i on "$PID" >/dev/null
  api POST "/incidents/$incident/updates" '{"status": "identified", "cause": "Expired relay certificate",
    "next_update_in": 30, "message": "The relay certificate expired; a new one is on its way."}' >/dev/null
  python3 - "$dir/sink.log" "$MAILS" <<'PY'
import os, re, sys, time
log, count = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 600
while time.time() < deadline:
    with open(log, "rb") as f:
        f.seek(max(0, os.path.getsize(log) - 80))
        found = re.findall(rb"sg=(\d+)", f.read())
    if found and int(found[-1]) >= count:
        break
    time.sleep(0.2)
else:
    sys.exit("the fan-out did not finish in 10 minutes")
PY
  sleep 1 # the last mails are marked sent
  echo "$1 mail $(($(counted "$dir") / MAILS))" >>"$WORK/results"
  kill "$PID" "$sink" 2>/dev/null || true
}

[ -n "${CANDOR_BASELINE_BIN:-}" ] && measure baseline "$CANDOR_BASELINE_BIN"
measure candor "$BIN"

printf '\n%-22s %14s %14s %8s\n' "instructions per" baseline candor ratio
for what in / /api/v2/summary.json mail; do
  b=$(awk -v w="$what" '$1 == "baseline" && $2 == w { print $3 }' "$WORK/results")
  c=$(awk -v w="$what" '$1 == "candor" && $2 == w { print $3 }' "$WORK/results")
  label="request $what"
  [ "$what" = mail ] && label="mail"
  printf '%-22s %14s %14s %8s\n' "$label" "${b:--}" "$c" \
    "$(awk -v a="$c" -v b="${b:-0}" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')"
done
