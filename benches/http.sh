#!/usr/bin/env bash
# How fast Candor serves its public read side, beside nginx serving the very
# same bytes from files, in the same run on the same machine.
#
#   bash benches/http.sh            # 10 s per run (12 runs, ~2 min in all)
#   DURATION=5 bash benches/http.sh
#
# Builds Candor in release mode, starts it on a fresh SQLite database with 20
# components and an open incident, saves `/` (as is and gzipped, the very
# bytes Candor sends) and `/api/v2/summary.json`, serves those files from
# nginx (Debian's, on a temporary config, `gzip_static on`, as many worker
# processes as Candor has worker threads), runs wrk (Debian's) against each
# at 64 and 256 connections, `/` both without and with `Accept-Encoding:
# gzip`, and prints the page's weight (as is, gzip, brotli), req/s, p50 and
# p99 for both, the ratio Candor/nginx, and Candor's peak RSS (VmHWM).
# Loopback only; every run is bounded in time; both servers are stopped at
# the end. A script that prints numbers, not a test: it never fails on them.
#
# Two builds side by side (did a change slow the hot path?):
#
#   CANDOR_BASELINE_BIN=old/candor CANDOR_BIN=new/candor REPEAT=3 bash benches/http.sh
#
# starts both on their own database with the same data, and for each path
# (`/` as is and with gzip, the JSON) and connection count runs wrk REPEAT
# times against each, interleaved (the order alternates from one repeat to
# the next, so a slow moment of the machine weighs on both), plus nginx once
# per repeat (serving the candor side's bytes). Prints the weight of both
# pages, every run, the medians, the ratios candor/baseline of req/s, p50,
# p99 and of each server's CPU time per request (which other work on the
# machine sways less than req/s), and candor/nginx of req/s. The baseline
# serves its own page: its req/s are today's page's, printed beside. With
# REPEAT=3 and DURATION=10 that is 3 cases x 2 connection counts x 3 repeats
# x 3 servers = 54 runs, about 9 minutes. Without CANDOR_BIN the current
# tree is built and is the candor side; paths may be relative.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-"64 256"}
BASELINE_BIN=${CANDOR_BASELINE_BIN:-}
REPEAT=${REPEAT:-3}
# Tokio runs a worker thread per core unless told otherwise; nginx gets as
# many worker processes, so that neither has more cores' worth of workers.
WORKERS=${TOKIO_WORKER_THREADS:-$(nproc)}
# What wrk asks for, as "path coding": `/` as is and gzipped, the JSON as is.
CASES=("/ identity" "/ gzip" "/api/v2/summary.json identity")
# Only some of them, for more repeats in the same time: CASES_ONLY="/ gzip".
if [ -n "${CASES_ONLY:-}" ]; then
  IFS=',' read -ra CASES <<<"$CASES_ONLY"
fi

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${need[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "benches/http.sh needs: ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

WORK=$(mktemp -d /tmp/candor-bench.XXXXXX)
CANDOR_PIDS=()
NGINX_PID=""
cleanup() {
  for pid in "${CANDOR_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  if [ -n "$NGINX_PID" ]; then kill -QUIT "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${CANDOR_BIN:-}" ]; then
  echo "==== building (release)"
  cargo build --release --quiet --bin candor
fi
BIN="${CANDOR_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/candor}"

if [ -n "$BASELINE_BIN" ] && [ ! -x "$BASELINE_BIN" ]; then
  echo "CANDOR_BASELINE_BIN is not an executable: $BASELINE_BIN" >&2
  exit 1
fi
# Each Candor runs in a folder of its own: relative paths would not hold there.
BIN=$(realpath "$BIN")
[ -z "$BASELINE_BIN" ] || BASELINE_BIN=$(realpath "$BASELINE_BIN")
NPORT=$(free_port)
NGINX_URL="http://127.0.0.1:${NPORT}"
TOKEN=bench-token
# One ETA for every Candor started here: their pages hold the same text.
ETA=$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)

admin() {
  curl -fsS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"
}
json_id() {
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# 20 components and an open incident with one update.
seed() { # URL
  local url=$1 i incident
  local names=("Outbound mail" "Inbound mail" "Mailboxes" "Calendar" "VPN" "Wi-Fi" "Intranet"
    "File shares" "Printing" "Phones" "Video calls" "Chat" "Single sign-on" "Payroll"
    "Ticket desk" "Wiki" "Source code" "Build servers" "Backups" "Web site")
  local ids=()
  for i in "${!names[@]}"; do
    ids+=("$(admin -d "{\"name\": \"${names[$i]}\", \"description\": \"${names[$i]} for all offices\", \"position\": $((i + 1))}" \
      "$url/api/v1/components" | json_id)")
  done
  incident=$(admin -d "{\"title\": \"Delayed outbound email\", \"impact\": \"major\",
    \"status\": \"investigating\", \"owner\": {\"name\": \"Dana (IT Ops)\", \"email\": \"dana@acme.test\"},
    \"next_update_in\": 60, \"components\": {\"${ids[0]}\": \"partial_outage\", \"${ids[2]}\": \"degraded_performance\"},
    \"message\": \"Outbound email is delayed by up to an hour. We are looking into it.\"}" \
    "$url/api/v1/incidents" | json_id)
  admin -d "{\"status\": \"identified\", \"cause\": \"Expired certificate on the mail relay\",
    \"eta\": \"$ETA\", \"next_update_in\": 60,
    \"message\": \"The relay's certificate expired overnight; a new one is being issued.\"}" \
    "$url/api/v1/incidents/$incident/updates" >/dev/null
}

# Starts BIN on a fresh SQLite database in $WORK/NAME and seeds it; sets
# STARTED_URL and STARTED_PID.
start_candor() { # NAME BIN
  local dir="$WORK/$1" bin=$2 port
  port=$(free_port)
  mkdir -p "$dir"
  STARTED_URL="http://127.0.0.1:${port}"
  echo "==== starting $1 on ${STARTED_URL} (SQLite)"
  (
    cd "$dir"
    # Only this script's settings: none of the caller's CANDOR_ variables.
    exec env $(env | grep -o '^CANDOR_[A-Z_]*' | sed 's/^/-u /') \
      CANDOR_DATABASE_URL="sqlite://${dir}/candor.db" \
      CANDOR_LISTEN="127.0.0.1:${port}" \
      CANDOR_ADMIN_TOKEN="$TOKEN" \
      CANDOR_MAIL_DIR="${dir}/outbox" \
      CANDOR_PAGE_NAME="Acme IT" \
      CANDOR_TIME_ZONE="Europe/Berlin" \
      "$bin" serve
  ) >"$dir/candor.log" 2>&1 &
  STARTED_PID=$!
  CANDOR_PIDS+=("$STARTED_PID")
  for _ in $(seq 100); do
    curl -fsS "$STARTED_URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$STARTED_URL/healthz" >/dev/null
  seed "$STARTED_URL"
}

start_candor candor "$BIN"
CANDOR=$STARTED_URL
CANDOR_PID=$STARTED_PID
if [ -n "$BASELINE_BIN" ]; then
  start_candor baseline "$BASELINE_BIN"
  BASELINE=$STARTED_URL
  BASELINE_PID=$STARTED_PID
fi

echo "==== saving the bytes, starting nginx on ${NGINX_URL}"
mkdir -p "$WORK/www/api/v2" "$WORK/nginx"
# nginx's workers run as nobody: they must be able to read the files.
chmod 755 "$WORK"
save_bytes() {
  curl -fsS -o "$WORK/www/index.html" "$CANDOR/"
  # Candor's own gzip bytes (curl does not decode them without --compressed).
  curl -fsS -H 'Accept-Encoding: gzip' -o "$WORK/www/index.html.gz" "$CANDOR/"
  curl -fsS -o "$WORK/www/api/v2/summary.json" "$CANDOR/api/v2/summary.json"
}
save_bytes
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  types { text/html html; application/json json; }
  sendfile on;
  tcp_nopush on;
  # index.html.gz to clients that take gzip, as Candor sends its own.
  gzip_static on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NPORT;
    root $WORK/www;
    index index.html;
  }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do
  curl -fsS -o /dev/null "$NGINX_URL/" 2>/dev/null && break
  sleep 0.1
done
# Past the first second, "in 60 min" has become "in 59 min": save what stays.
sleep 2
save_bytes
gzip -dc "$WORK/www/index.html.gz" | cmp -s - "$WORK/www/index.html" ||
  echo "note: the gzip and plain / saved are not the same page (a minute turned between them)"
for path in / /api/v2/summary.json; do
  cmp <(curl -fsS "$CANDOR$path") <(curl -fsS "$NGINX_URL$path") ||
    echo "note: $path changed since it was saved (its relative times move each minute)"
done
cmp -s <(curl -fsS -H 'Accept-Encoding: gzip' "$NGINX_URL/") "$WORK/www/index.html.gz" ||
  echo "note: nginx does not answer gzip with the saved index.html.gz"
# The bytes of `/` in each coding: "as is / gzip / brotli".
weight() { # URL
  local coding sizes=()
  for coding in identity gzip br; do
    sizes+=("$(curl -fsS -H "Accept-Encoding: $coding" "$1/" | wc -c)")
  done
  echo "${sizes[0]} B as is, ${sizes[1]} B gzip, ${sizes[2]} B brotli"
}
echo "weight of /: $(weight "$CANDOR"); summary.json $(stat -c %s "$WORK/www/api/v2/summary.json") B"
if [ -n "$BASELINE_BIN" ]; then
  echo "baseline's /: $(weight "$BASELINE"); summary.json $(curl -fsS "$BASELINE/api/v2/summary.json" | wc -c) B"
  echo "response headers of /: candor $(curl -fsS -o /dev/null -D - "$CANDOR/" | wc -c) B," \
    "baseline $(curl -fsS -o /dev/null -D - "$BASELINE/" | wc -c) B"
fi
echo "Candor: ${WORKERS} worker threads; nginx: ${WORKERS} worker processes"

# wrk's latency lines ("50%  1.23ms") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.2f", n }'
}
# User + system CPU ticks a process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() { # url connections [server pid] [coding] -> "req/s p50 p99 [server CPU µs per request]"
  local out ticks="" accept=()
  [ -n "${3:-}" ] && ticks=$(cpu_ticks "$3")
  [ "${4:-identity}" = identity ] || accept=(-H "Accept-Encoding: $4")
  out=$(wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --timeout 5s --latency "${accept[@]}" "$1")
  local rps p50 p99 cpu=""
  if [ -n "${3:-}" ]; then
    # Less swayed by other work on the machine than req/s: what each
    # request cost the server, whoever else wanted the cores.
    cpu=$(awk -v t="$(($(cpu_ticks "$3") - ticks))" -v hz="$(getconf CLK_TCK)" \
      '/ requests in / { printf "%.1f", t / hz * 1e6 / $1 }' <<<"$out")
  fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    grep "Non-2xx\|Socket errors" <<<"$out" | sed "s|^|  ($1 c=$2) |" >&2
  fi
  echo "$rps $p50 $p99 $cpu"
}

peak_rss() { # PID
  echo "$(awk '/^VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$1/status")" \
    "(now $(awk '/^(VmRSS|RssAnon|RssFile)/ {printf "%s %.1f MB ", $1, $2 / 1024}' "/proc/$1/status"))"
}
label() { if [ "$2" = identity ]; then echo "$1"; else echo "$1 ($2)"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [ -z "$BASELINE_BIN" ]; then
  echo "==== wrk: ${THREADS} threads, ${DURATION} s per run, same machine, loopback"
  printf '\n%-22s %5s  %12s %9s %9s  %12s %9s %9s  %7s\n' \
    path conns "candor req/s" "p50 ms" "p99 ms" "nginx req/s" "p50 ms" "p99 ms" ratio
  for case in "${CASES[@]}"; do
    read -r path coding <<<"$case"
    for c in $CONNECTIONS; do
      read -r c_rps c_p50 c_p99 <<<"$(run "$CANDOR$path" "$c" "" "$coding")"
      read -r n_rps n_p50 n_p99 <<<"$(run "$NGINX_URL$path" "$c" "" "$coding")"
      ratio=$(awk -v a="$c_rps" -v b="$n_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
      printf '%-22s %5s  %12s %9s %9s  %12s %9s %9s  %7s\n' \
        "$(label "$path" "$coding")" "$c" "$c_rps" "$c_p50" "$c_p99" "$n_rps" "$n_p50" "$n_p99" "$ratio"
    done
  done
  echo
  echo "Candor peak RSS: $(peak_rss "$CANDOR_PID")"
  echo "Ratio = Candor req/s / nginx req/s. Target: ratio >= 0.9 (also with gzip), peak RSS < 30 MB."
  exit 0
fi

echo "==== wrk: ${THREADS} threads, ${DURATION} s per run, ${REPEAT} repeats, baseline and candor interleaved"
echo "baseline: $BASELINE_BIN"
echo "candor:   $BIN"
row() {
  printf '%-22s %5s %4s  %10s %7s %7s %7s  %10s %7s %7s %7s  %10s  %6s %6s %6s %6s  %6s\n' "$@"
}
TABLE=()
SUMMARY=()
PAIRED=()
for case in "${CASES[@]}"; do
  read -r path coding <<<"$case"
  name=$(label "$path" "$coding")
  for c in $CONNECTIONS; do
    b_rps=() b_p50=() b_p99=() b_cpu=() c_rps=() c_p50=() c_p99=() c_cpu=() n_rps=()
    for rep in $(seq "$REPEAT"); do
      # Alternate who goes first, so a drift of the machine's load is shared.
      if [ $((rep % 2)) = 1 ]; then order="baseline candor"; else order="candor baseline"; fi
      for who in $order; do
        if [ "$who" = baseline ]; then
          read -r rps p50 p99 cpu <<<"$(run "$BASELINE$path" "$c" "$BASELINE_PID" "$coding")"
          b_rps+=("$rps") b_p50+=("$p50") b_p99+=("$p99") b_cpu+=("$cpu")
        else
          read -r rps p50 p99 cpu <<<"$(run "$CANDOR$path" "$c" "$CANDOR_PID" "$coding")"
          c_rps+=("$rps") c_p50+=("$p50") c_p99+=("$p99") c_cpu+=("$cpu")
        fi
      done
      read -r rps _ <<<"$(run "$NGINX_URL$path" "$c" "" "$coding")"
      n_rps+=("$rps")
      i=$((rep - 1))
      TABLE+=("$(row "$name" "$c" "$rep" "${b_rps[$i]}" "${b_p50[$i]}" "${b_p99[$i]}" "${b_cpu[$i]}" \
        "${c_rps[$i]}" "${c_p50[$i]}" "${c_p99[$i]}" "${c_cpu[$i]}" "${n_rps[$i]}" \
        "$(ratio "${c_rps[$i]}" "${b_rps[$i]}")" "$(ratio "${c_p50[$i]}" "${b_p50[$i]}")" \
        "$(ratio "${c_p99[$i]}" "${b_p99[$i]}")" "$(ratio "${c_cpu[$i]}" "${b_cpu[$i]}")" \
        "$(ratio "${c_rps[$i]}" "${n_rps[$i]}")")")
      echo "${TABLE[-1]}"
    done
    mb_rps=$(median "${b_rps[@]}") mb_p50=$(median "${b_p50[@]}") mb_p99=$(median "${b_p99[@]}")
    mc_rps=$(median "${c_rps[@]}") mc_p50=$(median "${c_p50[@]}") mc_p99=$(median "${c_p99[@]}")
    mb_cpu=$(median "${b_cpu[@]}") mc_cpu=$(median "${c_cpu[@]}")
    mn_rps=$(median "${n_rps[@]}")
    # Each repeat's two runs side by side, then the median of those ratios:
    # steadier than the ratio of medians when the machine's load drifts.
    paired=()
    for i in "${!b_cpu[@]}"; do paired+=("$(ratio "${c_cpu[$i]}" "${b_cpu[$i]}")"); done
    PAIRED+=("$(printf '%-22s %5s  CPU per request, candor/baseline, median of the repeats: %s' \
      "$name" "$c" "$(median "${paired[@]}")")")
    SUMMARY+=("$(row "$name" "$c" med "$mb_rps" "$mb_p50" "$mb_p99" "$mb_cpu" "$mc_rps" "$mc_p50" "$mc_p99" "$mc_cpu" \
      "$mn_rps" "$(ratio "$mc_rps" "$mb_rps")" "$(ratio "$mc_p50" "$mb_p50")" "$(ratio "$mc_p99" "$mb_p99")" \
      "$(ratio "$mc_cpu" "$mb_cpu")" "$(ratio "$mc_rps" "$mn_rps")")")
  done
done

echo
header() {
  row path conns run "req/s" "p50 ms" "p99 ms" "CPU us" "req/s" "p50 ms" "p99 ms" "CPU us" "nginx" "req/s" "p50" "p99" "CPU" "req/s"
}
printf '%-22s %5s %4s  %-34s  %-34s  %10s  %-27s  %s\n' "" "" "" "baseline" "candor" "" "candor/baseline" "c/nginx"
header
for line in "${TABLE[@]}"; do echo "$line"; done
echo "medians:"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "paired:"
for line in "${PAIRED[@]}"; do echo "$line"; done
echo
echo "baseline peak RSS: $(peak_rss "$BASELINE_PID")"
echo "candor peak RSS:   $(peak_rss "$CANDOR_PID")"
echo "CPU us: the server's user + system CPU time per request during its run."
echo "Ratios are candor/baseline of the medians: req/s above 1 is faster; p50, p99, CPU below 1 are faster."
echo "c/nginx: candor req/s / nginx req/s (nginx serves candor's saved bytes); target >= 0.9, also with gzip."
echo "The baseline serves its own page (today's, its weight above); its req/s are that page's."
