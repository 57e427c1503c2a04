#!/usr/bin/env bash
# Import benchmark (issue 19): a list of 1,000,000 subscribers (CSV, a
# tenth with a component, a hundredth refused) sent with
# `candor subscribers import`, into a fresh database each run; then the
# same list again (nothing added). Prints, per backend and run: seconds,
# lines per second, the server's CPU seconds and peak RSS, and how long
# staff's subscriber list takes at that size, filtered; then medians.
# Target: 1,000,000 lines in under a minute.
#
#   benches/subscriber_import.sh                    # SQLite
#   benches/subscriber_import.sh postgres://postgres@127.0.0.1:5432/test
#                                                   # SQLite, then PostgreSQL
#   LINES=100000 REPEAT=5 benches/subscriber_import.sh
#   CANDOR_BIN=path/to/candor benches/subscriber_import.sh   # no build
#
# Needs: cargo, python3, curl, psql (for PostgreSQL).
set -euo pipefail

cd "$(dirname "$0")/.."
PG_SERVER=${1:-}
LINES=${LINES:-1000000}
REPEAT=${REPEAT:-3}
TOKEN=bench-admin-token
WORK=$(mktemp -d "${TMPDIR:-/tmp}/candor-import.XXXXXX")
PIDS=()
PG_DATABASES=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for name in "${PG_DATABASES[@]}"; do
    psql "$PG_SERVER" -qc "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { printf '%s\n' "$*" >&2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

if [ -n "${CANDOR_BIN:-}" ]; then
  CANDOR=$CANDOR_BIN
else
  say "building candor (release)"
  cargo build --release --locked --quiet --bin candor
  CANDOR=${CARGO_TARGET_DIR:-$PWD/target}/release/candor
fi

LIST="$WORK/list.csv"
python3 - "$LIST" "$LINES" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("email,components,confirmed\n")
    for i in range(n):
        if i % 100 == 99:
            f.write(f"not-an-address-{i},,true\n")
        elif i % 10 == 0:
            f.write(f"reader{i}@bench.test,Outbound mail,true\n")
        else:
            f.write(f"reader{i}@bench.test,,true\n")
PY
say "list: $LINES lines, $(du -h "$LIST" | cut -f1)"

run() { # BACKEND -> "seconds again_seconds cpu_s rss_mb" in $WORK/result
  local backend=$1 dir="$WORK/$1" url
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$backend" = sqlite ]; then
    url="sqlite://$dir/candor.db"
  else
    local name="candor_bench_$RANDOM$RANDOM"
    psql "$PG_SERVER" -qc "CREATE DATABASE \"$name\"" >/dev/null
    PG_DATABASES+=("$name")
    url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$PG_SERVER" "$name")
  fi
  (cd "$dir" && exec env -u CANDOR_URL -u CANDOR_TOKEN RUST_LOG=warn \
    CANDOR_DATABASE_URL="$url" CANDOR_LISTEN=127.0.0.1:0 CANDOR_ADMIN_TOKEN="$TOKEN" \
    CANDOR_MAIL_DIR="$dir/mail" "$CANDOR" serve >"$dir/stdout" 2>"$dir/stderr") &
  local pid=$!
  PIDS+=("$pid")
  local url_http=""
  for _ in $(seq 600); do
    url_http=$(sed -n 's/^Candor listening on //p' "$dir/stdout" 2>/dev/null | head -1 || true)
    [ -n "$url_http" ] && break
    sleep 0.05
  done
  [ -n "$url_http" ] || { say "candor did not start:"; cat "$dir/stderr" >&2; exit 1; }
  curl -sf -X POST "$url_http/api/v1/components" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' --data '{"name": "Outbound mail"}' >/dev/null
  local cpu_before start mid end
  cpu_before=$(cpu_ticks "$pid")
  start=$(date +%s.%N)
  CANDOR_URL=$url_http CANDOR_TOKEN=$TOKEN "$CANDOR" subscribers import "$LIST" --json >"$dir/first.json"
  mid=$(date +%s.%N)
  CANDOR_URL=$url_http CANDOR_TOKEN=$TOKEN "$CANDOR" subscribers import "$LIST" --json >"$dir/again.json"
  end=$(date +%s.%N)
  python3 - "$dir/first.json" "$dir/again.json" "$LINES" <<'PY'
import json, sys
first, again, n = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
refused = n // 100
assert first["added"] == n - refused, first
assert first["refused"] == refused, first
assert again["added"] == 0 and again["already_there"] == n - refused, again
PY
  local cpu rss
  cpu=$(python3 -c "print(round(($(cpu_ticks "$pid") - $cpu_before) / $(getconf CLK_TCK), 2))")
  rss=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  # Staff's list at this size, filtered three ways: the median of 5 each.
  local component lists=()
  component=$(curl -sf -H "Authorization: Bearer $TOKEN" "$url_http/api/v1/components" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
  for query in "address=reader77777" "state=pending" "component=$component" "cursor=zzzzzzzz&limit=100"; do
    lists+=("$(for _ in 1 2 3 4 5; do
        curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" \
          "$url_http/api/v1/subscribers?$query"
      done | python3 -c 'import sys, statistics as st; print(round(st.median(float(l) for l in sys.stdin) * 1000, 1))')")
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  PIDS=()
  python3 -c "print(f'{$mid - $start:.2f} {$end - $mid:.2f} $cpu $rss ${lists[*]}')" >"$WORK/result"
}

backends=(sqlite)
[ -n "$PG_SERVER" ] && backends+=(postgres)
ROW="%-10s %8s %4s %10s %12s %10s %12s %12s %10s %10s %10s %10s"
ROWS=()
SUMMARY=()
for backend in "${backends[@]}"; do
  runs=()
  for rep in $(seq "$REPEAT"); do
    say "$backend, run $rep: importing $LINES lines"
    run "$backend"
    read -r first again cpu rss by_address by_state by_component late_page <"$WORK/result"
    rate=$(python3 -c "print(round($LINES / $first))")
    ROWS+=("$(printf "$ROW" "$backend" "$LINES" "$rep" "$first" "$rate" "$again" "$cpu" "$rss" "$by_address" "$by_state" "$by_component" "$late_page")")
    say "${ROWS[-1]}"
    runs+=("$first $rate $again $cpu $rss $by_address $by_state $by_component $late_page")
  done
  read -ra med <<<"$(printf '%s\n' "${runs[@]}" | python3 -c '
import sys, statistics as st
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
print(" ".join(str(st.median(c)) for c in zip(*rows)))')"
  SUMMARY+=("$(printf "$ROW" "$backend" "$LINES" med $(printf '%.2f %.0f %.2f %.2f %.1f %.1f %.1f %.1f %.1f' "${med[@]}"))")
done

echo
echo "Candor subscriber import ($(nproc) cores; CSV, 1 line in 100 refused, 1 in 10 with a component)"
printf "$ROW\n" backend lines run "import s" "lines/s" "again s" "server CPU s" "peak RSS MB" "address ms" "state ms" "component ms" "last page ms"
for row in "${ROWS[@]}"; do echo "$row"; done
echo "medians:"
for row in "${SUMMARY[@]}"; do echo "$row"; done
echo "list ms: GET /api/v1/subscribers filtered by an address prefix, by state (pending: none), by component, and a page past the end"
echo "target: 1000000 lines in under 60 s"
