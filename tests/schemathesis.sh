#!/usr/bin/env bash
# schemathesis against a running Candor: every check, on every operation of
# /api/v1/openapi.json, bounded in time. It must find no server error, no
# answer that breaks the document (its status, content type, headers and
# body) and no refusal of a request the document allows beyond the 422s
# tests/schemathesis.toml explains.
#
# Candor (the debug binary, built if missing; CANDOR_BIN for another) runs
# on 127.0.0.1 with a fresh SQLite database and a token made with
# `candor token create`. Candor and schemathesis run together in a network
# namespace of their own that has only a loopback interface: schemathesis
# adds webhook subscribers with made-up URLs, and Candor would otherwise
# resolve their hosts and post to them.
#
# SCHEMATHESIS_EXAMPLES (default 40) bounds the examples per operation and
# phase, SCHEMATHESIS_SECONDS (default 150) the whole run. The seed is
# fixed (SCHEMATHESIS_SEED to change it) so that a CI run can be replayed.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside" ]; then
  if ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
    echo "schemathesis: needs unshare and ip (util-linux, iproute2) for a network namespace" >&2
    exit 2
  fi
  # The tools first (this needs the package registry), then the run in a
  # namespace with nothing but loopback.
  VENV=target/ci-tools/schemathesis
  if ! cmp -s tests/schemathesis-requirements.txt "$VENV/requirements.txt" \
    || [ ! -x "$VENV/bin/schemathesis" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r tests/schemathesis-requirements.txt
    cp tests/schemathesis-requirements.txt "$VENV/requirements.txt"
  fi
  "$VENV/bin/schemathesis" --version
  if [ -z "${CANDOR_BIN:-}" ]; then
    cargo build --locked --quiet
  fi
  exec unshare --net -- "$0" --inside
fi

ip link set lo up
VENV=target/ci-tools/schemathesis
BIN=${CANDOR_BIN:-target/debug/candor}
WORK=$(mktemp -d)
PORT=18931
SERVER=
stop() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap stop EXIT

export CANDOR_DATABASE_URL="sqlite://$WORK/candor.db"
export CANDOR_LISTEN="127.0.0.1:$PORT"
export CANDOR_MAIL_DIR="$WORK/outbox"
export RUST_LOG="candor=warn"
"$BIN" migrate >/dev/null
TOKEN=$("$BIN" token create schemathesis | grep -E '^cnd_' | head -1)
if [ -z "$TOKEN" ]; then
  echo "schemathesis: candor token create printed no token" >&2
  exit 1
fi
"$BIN" serve >"$WORK/candor.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do
  if curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done

ROOT=$PWD
status=0
# From the scratch folder: schemathesis keeps a cache where it runs.
(cd "$WORK" && timeout "${SCHEMATHESIS_SECONDS:-150}" "$ROOT/$VENV/bin/schemathesis" --no-color \
  --config-file "$ROOT/tests/schemathesis.toml" \
  run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --url "http://127.0.0.1:$PORT/api/v1" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
  --seed "${SCHEMATHESIS_SEED:-20260315}" \
  --workers 2 \
  --generation-database none) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- Candor's log (warnings and errors) ---" >&2
  tail -n 50 "$WORK/candor.log" >&2
  if [ "$status" -eq 124 ]; then
    echo "FAIL: schemathesis did not finish within ${SCHEMATHESIS_SECONDS:-150} s" >&2
  fi
  exit "$status"
fi
