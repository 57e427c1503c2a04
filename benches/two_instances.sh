#!/usr/bin/env bash
# Several instances, proven (issue 17): two real `candor serve` processes on
# one fresh PostgreSQL database behind a local nginx (loopback only), which
# runs deploy/nginx/candor.conf as shipped, for plain HTTP. The test behind
# it, tests/api/two_instances.rs, checks and prints:
#
#   - a write (through the proxy, or on either instance) is on the other
#     instance's page within 1 s;
#   - timed work that comes due while both run is done once (owner
#     reminders and overdue notices, counted);
#   - one update fanned out to 5,000 subscribers while one instance is
#     killed with SIGKILL midway: every subscriber gets the mail, fewer than
#     one batch (512) get it twice;
#   - a rolling restart (SIGTERM one, start it, then the other) under steady
#     writes and reads through nginx: no failed request at the proxy, no
#     mail lost or sent twice, timed work due meanwhile done once.
#
#   benches/two_instances.sh                 # on postgres://postgres@127.0.0.1:5432/test
#   benches/two_instances.sh postgres://…    # another server (a fresh database is made on it)
#   SUBSCRIBERS=20000 benches/two_instances.sh
#
# Needs: cargo, nginx (Debian: nginx; it is run by this user, its service
# is not started), python3 with aiosmtpd (.ci/requirements.txt), a
# PostgreSQL server. Everything listens on 127.0.0.1. Bounded: the test
# gives up after a few minutes, and this script after ten.
set -euo pipefail

cd "$(dirname "$0")/.."
url=${1:-${CANDOR_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}}
case "$url" in
  postgres://* | postgresql://*) ;;
  *)
    echo "two_instances.sh: several instances need PostgreSQL, not $url" >&2
    exit 2
    ;;
esac
if ! command -v nginx >/dev/null; then
  echo "two_instances.sh needs nginx (Debian: apt-get install nginx)" >&2
  exit 2
fi

started=$(date +%s)
CANDOR_TWO_INSTANCES=1 \
  CANDOR_TWO_INSTANCES_SUBSCRIBERS="${SUBSCRIBERS:-5000}" \
  CANDOR_TEST_DATABASE_URL="$url" \
  timeout 600 cargo test --locked --test api two_instances:: -- --nocapture --test-threads=1
echo "two_instances.sh: passed in $(($(date +%s) - started)) s"
