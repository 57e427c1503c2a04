#!/usr/bin/env bash
# Writes src/hot_code.order: the functions Candor runs, hottest work first,
# which the release link lays out side by side (build.rs). Linked in the
# compiler's order, the few thousand functions a running Candor uses are
# spread over all 14 MB of machine code, and the kernel maps the 64 KB
# around every page that is touched: 12 MB of code resident to serve the
# page. Side by side they take about 5 MB (README, "Memory").
#
#   bash benches/hot_code.sh                 # builds the tree, rewrites the file
#   CANDOR_BIN=target/release/candor bash benches/hot_code.sh
#   bash benches/hot_code.sh postgres://postgres@127.0.0.1:5432/test
#                      # also PostgreSQL's own code, after all the rest
#
# Run it again after updating the toolchain or dependencies, or after
# changing code that runs: the file names functions by their mangled names,
# which such changes alter, and each function that runs but is not named
# costs up to 64 KB. CI runs this script on its release build and fails
# when more than 10 of the functions it finds are not in the committed
# file (.ci/hot-code). A stale file costs memory, never correctness.
#
# How: a release Candor runs under callgrind (user-space functions executed,
# counted exactly, whatever the timing) on a fresh SQLite database, with the
# logs as by default, through four steps, each dumped apart: start; the
# staff's writes (20 components, an incident, an update, a list of
# subscribers imported); the public side read (every page, feed and JSON
# document, as is, gzip and brotli); an update mailed to 300 subscribers.
# Twice: mail through postfix's smtp-sink, and mail to files (as
# `cargo run --release` does). The file lists start and reads first (what
# serving the page needs), then the staff's writes and the mail, each group
# in the order of the current binary. Code run by none of these
# (PostgreSQL, the console, the command-line client, most errors) follows
# in the compiler's order. Given a PostgreSQL URL, a third run on a fresh
# database there (made and dropped on that server) adds the functions only
# PostgreSQL needs, as a last group.
# Needs valgrind, curl, python3, smtp-sink (Debian: valgrind, postfix;
# installed when missing and root). Loopback only; under a minute.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-src/hot_code.order}
SUBSCRIBERS=${SUBSCRIBERS:-300}
PG_URL=${1:-}

need=()
command -v valgrind >/dev/null || need+=(valgrind)
command -v smtp-sink >/dev/null || need+=(postfix)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "benches/hot_code.sh needs: ${need[*]}" >&2
    exit 1
  fi
fi
[ -n "${CANDOR_BIN:-}" ] || cargo build --release --quiet --bin candor
BIN=$(realpath "${CANDOR_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/release/candor}")
SINK_USER=()
[ "$(id -u)" -eq 0 ] && SINK_USER=(-u nobody)

WORK=$(mktemp -d /tmp/candor-hot-code.XXXXXX)
PIDS=()
PG_DB=""
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  [ -z "$PG_DB" ] || psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
TOKEN=hot-code-token

# One Candor under callgrind, through the four steps; MODE smtp mails
# through smtp-sink, MODE files writes mail to files (`cargo run`'s way),
# MODE postgres is smtp on PostgreSQL.
session() { # MODE
  local mode=$1 dir="$WORK/$1" port sport mail=() ids=() incident eta list before
  local database="sqlite://$dir/candor.db"
  mkdir -p "$dir"
  if [ "$mode" = postgres ]; then
    PG_DB="candor_hot_code_$$"
    psql -q "$PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
    database="${PG_URL%/*}/$PG_DB"
  fi
  if [ "$mode" != files ]; then
    sport=$(free_port)
    smtp-sink -c "${SINK_USER[@]}" "127.0.0.1:$sport" 1024 >"$dir/sink.log" 2>&1 &
    PIDS+=("$!")
    mail=(CANDOR_SMTP_URL="smtp://127.0.0.1:$sport")
  else
    mail=(CANDOR_MAIL_DIR="$dir/outbox")
  fi
  port=$(free_port)
  URL="http://127.0.0.1:$port"
  # Logs as they are by default: formatting them is part of the work.
  (cd "$dir" && exec env $(env | grep -o '^CANDOR_[A-Z_]*' | sed 's/^/-u /') -u RUST_LOG \
    CANDOR_DATABASE_URL="$database" CANDOR_LISTEN="127.0.0.1:$port" \
    CANDOR_ADMIN_TOKEN="$TOKEN" "${mail[@]}" \
    CANDOR_MAIL_FROM="Status <status@hot-code.test>" CANDOR_PAGE_NAME="Acme IT" \
    CANDOR_TIME_ZONE="Europe/Berlin" \
    valgrind --tool=callgrind --demangle=no --dump-line=no --callgrind-out-file="$dir/cg.out" \
    "$BIN" serve >"$dir/log" 2>&1) &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 600); do
    curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "$URL/healthz" >/dev/null
  step "$dir" start

  for i in $(seq 20); do
    ids+=("$(api POST /components "{\"name\": \"Component $i\", \"description\": \"Component $i for all offices\", \"position\": $i}" | json_id)")
  done
  incident=$(api POST /incidents "{\"title\": \"Delayed outbound email\", \"impact\": \"major\",
    \"status\": \"investigating\", \"owner\": {\"name\": \"Dana (IT Ops)\", \"email\": \"dana@hot-code.test\"},
    \"next_update_in\": 60, \"components\": {\"${ids[0]}\": \"partial_outage\", \"${ids[2]}\": \"degraded_performance\"},
    \"message\": \"Outbound email is delayed by up to an hour. We are looking into it.\"}" | json_id)
  eta=$(date -u -d '+3 hours' +%Y-%m-%dT%H:%M:%SZ)
  api POST "/incidents/$incident/updates" "{\"status\": \"identified\", \"cause\": \"Expired certificate on the mail relay\",
    \"eta\": \"$eta\", \"next_update_in\": 60, \"message\": \"The relay's certificate expired overnight.\"}" >/dev/null
  list=$(printf 'email,components,confirmed\n'; for i in $(seq "$SUBSCRIBERS"); do printf 'reader%s@hot-code.test,,yes\n' "$i"; done)
  api POST /subscribers/import "$list" text/csv >/dev/null
  api GET /subscribers >/dev/null
  api GET "/incidents/$incident" >/dev/null
  sleep 2 # the writes' own mails go out
  step "$dir" staff

  for path in / /history "/incidents/$incident" "/incidents/$incident/affected" /still-affected \
    /feed.atom /feed.rss "/components/${ids[0]}/feed.atom" /maintenance.ics /badge.svg \
    "/components/${ids[0]}/badge.svg" /embed.js /api/v2/summary.json /api/v2/status.json \
    /api/v2/components.json /api/v2/incidents.json /api/v2/incidents/unresolved.json \
    /api/v2/scheduled-maintenances.json /static/candor.css /favicon.ico /healthz /no-such-page; do
    for coding in identity gzip br; do
      for _ in 1 2 3; do curl -sS -o /dev/null -H "Accept-Encoding: $coding" "$URL$path"; done
    done
  done
  step "$dir" reads

  before=$(sent "$mode" "$dir")
  api POST "/incidents/$incident/updates" '{"status": "monitoring", "next_update_in": 30,
    "message": "A new certificate is in place; mail is flowing again."}' >/dev/null
  for _ in $(seq 600); do
    [ "$(sent "$mode" "$dir")" -ge $((before + SUBSCRIBERS)) ] && break
    sleep 0.5
  done
  if [ "$(sent "$mode" "$dir")" -lt $((before + SUBSCRIBERS)) ]; then
    echo "the update's $SUBSCRIBERS mails did not all go out in 5 minutes" >&2
    exit 1
  fi
  sleep 1 # the last mails are marked sent
  step "$dir" mail
  kill -TERM "$PID"
  wait "$PID" || true
}

# Each step's functions: a dump holds those run since the one before.
step() { # DIR NAME
  callgrind_control -d "$2" "$PID" >/dev/null 2>&1
  local file
  file=$(ls -t "$1"/cg.out.* | head -1)
  mv "$file" "$1/step.$2"
}
api() { # METHOD PATH [BODY [TYPE]]
  curl -fsS -X "$1" "$URL/api/v1$2" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: ${4:-application/json}" ${3:+--data-binary "$3"}
}
json_id() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
# Mails handed over so far: smtp-sink's count, or the files written.
sent() { # MODE DIR
  if [ "$1" != files ]; then
    python3 -c 'import re,sys; f=re.findall(rb"sg=(\d+)", open(sys.argv[1],"rb").read()); print(int(f[-1]) if f else 0)' "$2/sink.log"
  else
    find "$2/outbox" -type f 2>/dev/null | wc -l
  fi
}

session smtp
session files
[ -z "$PG_URL" ] || session postgres

# Names per step, in the order of the binary they were read from; each name
# once, in the first group that ran it.
python3 - "$BIN" "$OUT" "$WORK" <<'PY'
import os, re, subprocess, sys
binary, out, work = sys.argv[1], sys.argv[2], sys.argv[3]
address = {}
for line in subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "tTwW":
        address.setdefault(parts[2], int(parts[0], 16))
def ran(mode, step):
    names = set()
    for line in open(f"{work}/{mode}/step.{step}", errors="replace"):
        m = re.match(r"c?fn=\(\d+\) (.+)", line)
        if m and m.group(1).strip() in address:
            names.add(m.group(1).strip())
    return names
steps = ("start", "reads", "staff", "mail")
groups = [(step, ran("smtp", step) | ran("files", step)) for step in steps]
if os.path.isdir(f"{work}/postgres"):
    groups.append(("postgres", set().union(*(ran("postgres", step) for step in steps))))
seen, lines = set(), []
for step, names in groups:
    group = sorted(names - seen, key=address.get)
    print(f"{step:>8}: {len(group)} functions")
    seen |= names
    lines += group
with open(out, "w") as f:
    f.write("".join(name + "\n" for name in lines))
print(f"{out}: {len(lines)} functions")
PY
