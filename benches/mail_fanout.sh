#!/usr/bin/env bash
# Fan-out benchmark (issues 4, 19): one update mailed to 10,000 and 100,000
# (and with --million 1,000,000) confirmed subscribers through a local SMTP
# sink, beside the sink's own ceiling measured in the same run with
# `smtp-source`.
#
#   benches/mail_fanout.sh                      # SQLite
#   benches/mail_fanout.sh --million            # also 1,000,000 (minutes)
#   benches/mail_fanout.sh postgres://postgres@127.0.0.1:5432/test
#                                               # SQLite, then PostgreSQL
#   SIZES="10000" REPEAT=5 benches/mail_fanout.sh  # other sizes, runs
#   BACKENDS=postgres benches/mail_fanout.sh postgres://…  # one backend
#   PERF_DATA=fanout.perf SIZES=100000 REPEAT=1 benches/mail_fanout.sh
#                                               # and where Candor's CPU went
#
# Prints, per backend, size and run: the admin POST latency, the time from
# the POST to the first mail and to the last, mails per second, smtp-source's
# rate (the mean of its runs just before and after), the ratio of the two,
# Candor's CPU time per mail beside smtp-source's per message (the same
# two runs' mean) and its peak RSS (VmHWM: the most memory the
# process held at once, from its start to the end of the fan-out) and its
# peak anonymous memory (sampled; RSS also counts file pages the process
# maps, its own binary's above all, which the kernel drops when memory is
# short), and the
# time the incident's delivery report and a scrape of /metrics take to
# answer once all is sent;
# then the medians. Targets: POST < 500 ms and first mail within 1 s at every size,
# at least 0.9 of smtp-source's rate, peak RSS under 64 MB.
#
# Two builds side by side (did a change slow the fan-out?):
#
#   CANDOR_BASELINE_BIN=old/candor CANDOR_BIN=new/candor REPEAT=3 benches/mail_fanout.sh
#
# runs each size REPEAT times with each binary, interleaved (the order
# alternates from one repeat to the next), every Candor run still between two
# smtp-source runs; prints every run with the binary's name, the medians per
# binary, and the ratios candor/baseline of each median. CANDOR_BIN alone
# skips the build and measures that binary.
#
# Needs: cargo, curl, sqlite3, python3, psql (for PostgreSQL) and postfix's
# smtp-sink/smtp-source (installed from Debian's postfix package when
# missing; postfix itself is never started).
set -euo pipefail

cd "$(dirname "$0")/.."
MILLION=""
if [ "${1:-}" = "--million" ]; then
  MILLION=1
  shift
fi
PG_SERVER=${1:-}
SIZES=${SIZES:-"10000 100000${MILLION:+ 1000000}"}
# smtp-source: as many sessions as a busy sender would open, and messages of
# the size of Candor's update mail: 2.5 kB, of which 0.6 kB headers; smtp-source
# adds about 0.15 kB of headers to its body of MAIL_BYTES.
SOURCE_SESSIONS=${SOURCE_SESSIONS:-64}
MAIL_BYTES=${MAIL_BYTES:-2350}
TOKEN=bench-admin-token
WORK=$(mktemp -d /tmp/candor-bench.XXXXXX)
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

# User + system CPU ticks a process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- tools ---------------------------------------------------------------
if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  say "installing postfix for smtp-sink and smtp-source (the mail system is not started)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -q >/dev/null
  # policy-rc.d (as in containers) or no init system: nothing is started.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postfix >/dev/null
fi
SINK_USER=()
[ "$(id -u)" -eq 0 ] && SINK_USER=(-u nobody)

if [ -n "${CANDOR_BIN:-}" ]; then
  CANDOR=$CANDOR_BIN
else
  say "building candor (release)"
  cargo build --release --locked --quiet --bin candor
  CANDOR=${CARGO_TARGET_DIR:-$PWD/target}/release/candor
fi
BASELINE=${CANDOR_BASELINE_BIN:-}
for bin in "$CANDOR" ${BASELINE:+"$BASELINE"}; do
  [ -x "$bin" ] || { say "not an executable: $bin"; exit 1; }
done

# smtp-sink with a running counter ("... msg=N\r") in $1; prints its pid.
start_sink() {
  local port=$1 log=$2
  smtp-sink -c "${SINK_USER[@]}" "127.0.0.1:$port" 1024 >"$log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2).close()" 2>/dev/null; then
      return
    fi
    sleep 0.05
  done
  say "smtp-sink did not start"; exit 1
}

# --- the sink's ceiling ----------------------------------------------------
# smtp-source's rate for COUNT messages, into a fresh sink.
source_rate() { # COUNT
  local port start end
  port=$(free_port)
  start_sink "$port" "$WORK/source-sink.log"
  start=$(date +%s.%N)
  # Its CPU time (user + system) per message, left in source-cpu.
  python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[2:], check=True, stdout=sys.stderr)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(round((r.ru_utime + r.ru_stime) * 1e6 / int(sys.argv[1])))' "$1" \
    smtp-source -d -s "$SOURCE_SESSIONS" -m "$1" -l "$MAIL_BYTES" \
    -f status@bench.test -t reader@bench.test "127.0.0.1:$port" >"$WORK/source-cpu"
  end=$(date +%s.%N)
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
  unset 'PIDS[-1]'
  python3 -c "print(round($1 / ($end - $start)))"
}

# --- Candor ----------------------------------------------------------------
api() { # METHOD PATH [JSON]
  curl -sf -X "$1" "$URL/api/v1$2" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' ${3:+--data "$3"}
}
json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# Confirmed subscribers of everything, with the values Candor itself writes
# (see Subscriber::email and write_subscriber). Ids are unique and, like
# Candor's own, in no relation to the order the rows were written in.
# On PostgreSQL the table is then vacuumed, as autovacuum would have done
# long before an incident: the first scan of freshly inserted rows would
# otherwise also write their hint bits, inside the timed POST.
insert_subscribers() { # BACKEND DATABASE_URL COUNT
  local now_ms
  now_ms=$(($(date +%s%N) / 1000000))
  local select="lower(hex(randomblob(4))) || substr('0000000' || n, -7, 7), 'email', 'reader' || n || '@bench.test',
    'confirmed', TRUE, $now_ms, NULL, $now_ms, NULL"
  local columns="(id, channel, address, state, all_components, created_at, confirm_sent_at, confirmed_at, unsubscribed_at)"
  if [ "$1" = sqlite ]; then
    # 100,000 at a time, each in id order: one transaction of a million
    # random ids would hold the write lock past Candor's busy timeout of
    # 10 s, and its scheduler and worker would log "database is locked".
    local from
    for ((from = 0; from < $3; from += 100000)); do
      sqlite3 -bail "${2#sqlite://}" <<SQL
.timeout 10000
INSERT INTO subscribers $columns
WITH RECURSIVE seq(n) AS (SELECT $((from + 1)) UNION ALL SELECT n + 1 FROM seq WHERE n < $((from + 100000 < $3 ? from + 100000 : $3)))
SELECT $select FROM seq ORDER BY 1;
SQL
    done
  else
    psql "$2" -qv ON_ERROR_STOP=1 -c "INSERT INTO subscribers $columns
      SELECT substr(md5(n::text), 1, 8) || lpad(n::text, 7, '0'), 'email', 'reader' || n || '@bench.test',
        'confirmed', TRUE, $now_ms, NULL, $now_ms, NULL FROM generate_series(1, $3) AS n;" \
      -c "VACUUM ANALYZE subscribers;" >/dev/null
  fi
}

RESULTS=()
run() { # BACKEND COUNT [BINARY]
  local backend=$1 count=$2 bin=${3:-$CANDOR} url dir="$WORK/$1-$2"
  mkdir -p "$dir"
  if [ "$backend" = sqlite ]; then
    url="sqlite://$dir/candor.db"
  else
    local name="candor_bench_$RANDOM$RANDOM"
    psql "$PG_SERVER" -qc "CREATE DATABASE \"$name\"" >/dev/null
    PG_DATABASES+=("$name")
    url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$PG_SERVER" "$name")
  fi
  local port
  port=$(free_port)
  start_sink "$port" "$dir/sink.log"
  (cd "$dir" && exec env -u CANDOR_URL -u CANDOR_TOKEN -u CANDOR_BIN -u CANDOR_BASELINE_BIN RUST_LOG=warn \
    CANDOR_DATABASE_URL="$url" CANDOR_LISTEN=127.0.0.1:0 \
    CANDOR_SMTP_URL="smtp://127.0.0.1:$port" CANDOR_ADMIN_TOKEN="$TOKEN" \
    CANDOR_MAIL_FROM="Status <status@bench.test>" \
    "$bin" serve >"$dir/stdout" 2>"$dir/stderr") &
  PIDS+=("$!")
  URL=""
  for _ in $(seq 600); do
    # The file may not exist yet: a loaded machine starts the process late.
    URL=$(sed -n 's/^Candor listening on //p' "$dir/stdout" 2>/dev/null | head -1 || true)
    [ -n "$URL" ] && break
    sleep 0.05
  done
  [ -n "$URL" ] || { say "candor did not start:"; cat "$dir/stderr" >&2; exit 1; }

  local component incident
  component=$(api POST /components '{"name": "Outbound mail"}' | json_id)
  # Opened before anyone subscribed: the update below is the only fan-out.
  incident=$(api POST /incidents "{\"title\": \"Mail delays\", \"impact\": \"minor\",
    \"status\": \"investigating\", \"owner\": {\"name\": \"Dana\", \"email\": \"dana@bench.test\"},
    \"next_update_in\": 30, \"components\": {\"$component\": \"partial_outage\"},
    \"message\": \"We are looking into delayed outbound mail.\"}" | json_id)
  say "$backend, $count subscribers: inserting"
  insert_subscribers "$backend" "$url" "$count"

  say "$backend, $count subscribers: posting the update"
  local line cpu_before
  cpu_before=$(cpu_ticks "${PIDS[-1]}")
  # PERF_DATA=FILE: a CPU profile of Candor over the fan-out, for
  # `perf report -i FILE` (the last run's, when there are several).
  local perf_pid=""
  if [ -n "${PERF_DATA:-}" ]; then
    perf record -q -F 1999 -e cpu-clock -g -p "${PIDS[-1]}" -o "$PERF_DATA" 2>/dev/null &
    perf_pid=$!
  fi
  line=$(python3 - "$URL/api/v1/incidents/$incident/updates" "$TOKEN" "$dir/sink.log" "$count" "${PIDS[-1]}" <<'PY'
import json, os, re, sys, time, urllib.request
url, token, log, count, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
anon_kb = 0

def sample_anon():
    # Anonymous memory only (heap, stacks, SQLite's page cache): RSS also
    # counts mapped file pages (the binary's), which the kernel can drop.
    global anon_kb
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                anon_kb = max(anon_kb, int(line.split()[1]))
body = json.dumps({"status": "identified", "cause": "Expired relay certificate",
                   "eta": None, "next_update_in": 30,
                   "message": "The relay's certificate expired; a new one is on its way."}).encode()
request = urllib.request.Request(url, data=body, method="POST", headers={
    "Authorization": "Bearer " + token, "Content-Type": "application/json"})

def sent():
    # smtp-sink -c rewrites "sess=.. quit=.. msg=N" (or mesg=N) after each mail.
    with open(log, "rb") as f:
        f.seek(max(0, os.path.getsize(log) - 80))
        found = re.findall(rb"sg=(\d+)", f.read())
    return int(found[-1]) if found else 0

start = time.monotonic()
with urllib.request.urlopen(request) as response:
    assert response.status == 201, response.status
post = time.monotonic() - start
first = None
deadline = start + 1800
while True:
    n = sent()
    now = time.monotonic()
    if n and first is None:
        first = now - start
    if n >= count:
        break
    if now > deadline:
        sys.exit(f"timed out with {n} of {count} mails")
    sample_anon()
    time.sleep(0.002 if first is None else 0.02)
total = time.monotonic() - start
print(f"{post * 1000:.0f} {first * 1000:.0f} {total:.2f} {count / total:.0f} {anon_kb / 1024:.1f}")
PY
)
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  # Candor's CPU time (user + system) per mail, over the whole fan-out.
  local cpu_us rss_mb report_ms metrics_ms
  cpu_us=$(python3 -c "print(round(($(cpu_ticks "${PIDS[-1]}") - $cpu_before) / $(getconf CLK_TCK) * 1e6 / $count))")
  rss_mb=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/${PIDS[-1]}/status")
  # The delivery report staff read of the incident: the median of 5.
  report_ms=$(for _ in 1 2 3 4 5; do
      curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" \
        "$URL/api/v1/incidents/$incident/deliveries"
    done | python3 -c 'import sys, statistics as st; print(round(st.median(float(l) for l in sys.stdin) * 1000))')
  # A Prometheus scrape of /metrics, the same way.
  metrics_ms=$(for _ in 1 2 3 4 5; do
      curl -sf -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $TOKEN" "$URL/metrics"
    done | python3 -c 'import sys, statistics as st; print(round(st.median(float(l) for l in sys.stdin) * 1000))')
  echo "$line $cpu_us $rss_mb $report_ms $metrics_ms" >"$dir/result"
  if grep -qiE "error|panic" "$dir/stderr"; then
    say "candor logged errors:"; grep -iE "error|panic" "$dir/stderr" | head -5 >&2
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  PIDS=()
}

# Each Candor run sits between two smtp-source runs of the same size; its
# ratio is to their mean, so a slow moment of the machine counts on both
# sides. The summary gives the median of REPEAT runs.
REPEAT=${REPEAT:-3}
backends=(sqlite)
[ -n "$PG_SERVER" ] && backends+=(postgres)
# BACKENDS="postgres" runs only some of them.
[ -n "${BACKENDS:-}" ] && read -ra backends <<<"$BACKENDS"
# With a baseline, every row names its binary.
if [ -n "$BASELINE" ]; then BINCOL='%-9s '; else BINCOL='%.0s'; fi
ROW="${BINCOL}%-10s %9s %4s %10s %15s %10s %10s %16s %7s %12s %12s %12s %12s %10s %10s"
ROWS=()
SUMMARY=()
medians() { # runs on stdin, one per line -> the median of each column
  python3 -c '
import sys, statistics as st
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
print(" ".join(str(st.median(col)) for col in zip(*rows)))'
}
for backend in "${backends[@]}"; do
  for n in $SIZES; do
    say "smtp-source: $n messages of $MAIL_BYTES bytes over $SOURCE_SESSIONS connections"
    before=$(source_rate "$n")
    before_cpu=$(cat "$WORK/source-cpu")
    runs_candor=()
    runs_baseline=()
    for rep in $(seq "$REPEAT"); do
      order=(candor)
      if [ -n "$BASELINE" ]; then
        # Alternate who goes first, so a drift of the machine's load is shared.
        if [ $((rep % 2)) = 1 ]; then order=(baseline candor); else order=(candor baseline); fi
      fi
      for who in "${order[@]}"; do
        bin=$CANDOR
        [ "$who" = baseline ] && bin=$BASELINE
        [ -n "$BASELINE" ] && say "--- $who, run $rep"
        run "$backend" "$n" "$bin"
        read -r post_ms first_ms total_s rate anon_mb cpu_us rss_mb report_ms metrics_ms <"$WORK/$backend-$n/result"
        rm -rf "$WORK/$backend-$n"
        say "smtp-source: $n messages"
        after=$(source_rate "$n")
        after_cpu=$(cat "$WORK/source-cpu")
        source=$(( (before + after) / 2 ))
        source_cpu=$(( (before_cpu + after_cpu) / 2 ))
        ratio=$(python3 -c "print(f'{$rate / $source:.2f}')")
        ROWS+=("$(printf "$ROW" "$who" "$backend" "$n" "$rep" \
          "$post_ms" "$first_ms" "$total_s" "$rate" "$source" "$ratio" "$cpu_us" "$source_cpu" "$rss_mb" "$anon_mb" "$report_ms" "$metrics_ms")")
        say "${ROWS[-1]}"
        if [ "$who" = baseline ]; then
          runs_baseline+=("$post_ms $first_ms $total_s $rate $source $ratio $cpu_us $source_cpu $rss_mb $anon_mb $report_ms $metrics_ms")
        else
          runs_candor+=("$post_ms $first_ms $total_s $rate $source $ratio $cpu_us $source_cpu $rss_mb $anon_mb $report_ms $metrics_ms")
        fi
        before=$after
        before_cpu=$after_cpu
      done
    done
    read -ra med_c <<<"$(printf '%s\n' "${runs_candor[@]}" | medians)"
    if [ -n "$BASELINE" ]; then
      read -ra med_b <<<"$(printf '%s\n' "${runs_baseline[@]}" | medians)"
      SUMMARY+=("$(printf "$ROW" baseline "$backend" "$n" med $(printf '%.0f %.0f %.2f %.0f %.0f %.2f %.0f %.0f %.1f %.1f %.0f %.0f' "${med_b[@]}"))")
    fi
    SUMMARY+=("$(printf "$ROW" candor "$backend" "$n" med $(printf '%.0f %.0f %.2f %.0f %.0f %.2f %.0f %.0f %.1f %.1f %.0f %.0f' "${med_c[@]}"))")
    if [ -n "$BASELINE" ]; then
      SUMMARY+=("$(printf "$ROW" "cand/base" "$backend" "$n" "" $(python3 -c '
import sys
c, b = sys.argv[1].split(), sys.argv[2].split()
print(" ".join("%.3f" % (float(x) / float(y)) if float(y) else "-" for x, y in zip(c, b)))' "${med_c[*]}" "${med_b[*]}"))")
    fi
  done
done

echo
echo "Candor mail fan-out (one update; $(nproc) cores; smtp-source: $SOURCE_SESSIONS connections, $MAIL_BYTES-byte bodies)"
echo "smtp-source/s: the mean of the smtp-source runs just before and just after each Candor run"
if [ -n "$BASELINE" ]; then
  echo "baseline: $BASELINE"
  echo "candor:   $CANDOR"
fi
printf "$ROW\n" binary backend mails run "POST ms" "first mail ms" "total s" "mails/s" "smtp-source/s" ratio "CPU µs/mail" "source µs/msg" "peak RSS MB" "peak anon MB" "report ms" "metrics ms"
for row in "${ROWS[@]}"; do echo "$row"; done
echo "medians:"
for row in "${SUMMARY[@]}"; do echo "$row"; done
if [ -n "$BASELINE" ]; then
  echo "cand/base: each median of candor over baseline's (times, CPU: below 1 is faster; mails/s, ratio: above 1 is faster)"
fi
echo "targets: POST < 500 ms, first mail < 1000 ms, ratio >= 0.90, CPU per mail <= smtp-source's, peak RSS < 64 MB, delivery report < 100 ms, a scrape < 100 ms"
