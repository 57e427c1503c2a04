#!/usr/bin/env bash
# How fast the staff console answers one person at the worst moment: an
# outage with three open incidents of ten entries each, twenty components
# and a thousand subscribers. For each page, one connection (a person, not
# a crowd) asks again and again for DURATION seconds; prints the median
# (p50) and p99 latency from wrk, beside `/healthz` (the cheapest answer,
# the baseline measured in the same run) and the ratio to it; then times
# REPEAT posts of the open form (open an incident: the write, its fan-out
# rows, the redirect) with curl, and prints their median.
#
#   bash benches/console.sh                 # 5 s per page, ~1 min after the build
#   DURATION=10 REPEAT=21 bash benches/console.sh
#   CANDOR_BIN=target/release/candor bash benches/console.sh   # no build
#
# Release build, SQLite, loopback only, bounded in time; Candor is stopped
# at the end. A script that prints numbers, not a test.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
REPEAT=${REPEAT:-11}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "benches/console.sh needs: ${need[*]}" >&2
    exit 1
  fi
fi

if [ -z "${CANDOR_BIN:-}" ]; then
  echo "==== building (release)"
  cargo build --release --quiet --bin candor
fi
BIN=$(realpath "${CANDOR_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/candor}")

WORK=$(mktemp -d /tmp/candor-console-bench.XXXXXX)
PID=""
cleanup() {
  [ -z "$PID" ] || { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:${PORT}"
TOKEN=bench-token
PASSWORD="correct horse battery"
export CANDOR_DATABASE_URL="sqlite://$WORK/candor.db" CANDOR_LISTEN="127.0.0.1:${PORT}" \
  CANDOR_MAIL_DIR="$WORK/outbox" CANDOR_ADMIN_TOKEN=$TOKEN CANDOR_TIME_ZONE=Europe/Berlin \
  CANDOR_LOGIN_LIMIT_PER_IP=off CANDOR_LOGIN_LIMIT_PER_ADDRESS=off
cd "$WORK"
"$BIN" migrate >/dev/null
printf '%s\n' "$PASSWORD" | "$BIN" user create dana@acme.test --name "Dana (IT Ops)" --role admin --password-stdin >/dev/null
"$BIN" serve >"$WORK/serve.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

admin() { curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
id_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

echo "==== seeding: 20 components, 1,000 subscribers, 3 incidents of 10 entries"
components=()
for i in $(seq 20); do
  components+=("$(admin -d "{\"name\": \"Service $i\", \"position\": $i}" "$URL/api/v1/components" | id_of)")
done
for i in $(seq 1000); do
  admin -d "{\"email\": \"reader$i@example.test\", \"confirmed\": true}" "$URL/api/v1/subscribers" >/dev/null
done
incident=""
for n in 1 2 3; do
  incident=$(admin -d "{\"title\": \"Outage $n\", \"impact\": \"major\", \"owner\": {\"name\": \"Dana (IT Ops)\", \"email\": \"dana@acme.test\"},
    \"next_update_in\": 60, \"components\": {\"${components[$n]}\": \"major_outage\"}, \"message\": \"We are looking into it.\"}" \
    "$URL/api/v1/incidents" | id_of)
  for e in $(seq 9); do
    admin -d "{\"next_update_in\": 60, \"message\": \"Update $e: still working on it.\"}" "$URL/api/v1/incidents/$incident/updates" >/dev/null
  done
done

echo "==== logging in"
jar="$WORK/jar"
login_csrf=$(curl -fsS -c "$jar" "$URL/admin/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "csrf=$login_csrf" \
  --data-urlencode "email=dana@acme.test" --data-urlencode "password=$PASSWORD" "$URL/admin/login"
session=$(awk '$6 == "candor_session" {print $7}' "$jar")
[ -n "$session" ] || { echo "could not log in" >&2; exit 1; }
cookie="Cookie: candor_session=$session"

# wrk's p50 and p99 in ms, and req/s, for one path.
measure() { # PATH
  wrk -t1 -c1 -d"${DURATION}s" --latency -H "$cookie" "$URL$1" | python3 -c '
import re, sys
text = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s*" + label + r"%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
print(f"{ms(\"50\"):.3f} {ms(\"99\"):.3f} {rps:.0f} {non2xx.group(1) if non2xx else 0}")'
}

echo "==== one person, one connection, ${DURATION} s per page (Candor $("$BIN" --version))"
read -r base50 base99 baserps _ <<<"$(measure /healthz)"
printf '%-34s %9s %9s %8s %10s\n' page p50_ms p99_ms req/s p50/healthz
printf '%-34s %9s %9s %8s %10s\n' "/healthz (baseline)" "$base50" "$base99" "$baserps" 1.00
for path in /admin/incidents/new /admin "/admin/incidents/$incident" /admin/subscribers /admin/audit; do
  read -r p50 p99 rps bad <<<"$(measure "$path")"
  [ "$bad" = 0 ] || { echo "$path answered $bad times with an error" >&2; exit 1; }
  ratio=$(python3 -c "print(f'{$p50 / $base50:.1f}')")
  printf '%-34s %9s %9s %8s %10s\n' "$path" "$p50" "$p99" "$rps" "$ratio"
done

echo "==== posting the open form ${REPEAT} times (curl: form in, redirect out)"
csrf=$(curl -fsS -H "$cookie" "$URL/admin/incidents/new" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
owner=$(curl -fsS -H "$cookie" "$URL/admin/incidents/new" | grep -o '<select id="owner"[^>]*><option value="[a-z0-9]*"' | sed 's/.*value="//;s/"//')
times=()
for i in $(seq "$REPEAT"); do
  t=$(curl -fsS -o /dev/null -w '%{time_total}' -H "$cookie" --data-urlencode "csrf=$csrf" \
    --data-urlencode "title=Bench incident $i" -d impact=minor -d status=investigating \
    -d "owner=$owner" -d next_update=30 -d action=post "-d" "component.${components[5]}=degraded_performance" \
    "$URL/admin/incidents")
  times+=("$t")
done
python3 -c "
import statistics, sys
t = sorted(float(x) * 1000 for x in sys.argv[1:])
print(f'open an incident: median {statistics.median(t):.2f} ms, min {t[0]:.2f}, max {t[-1]:.2f} ms ({len(t)} posts, each to 1,000 subscribers)')" "${times[@]}"
