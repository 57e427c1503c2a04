#!/usr/bin/env bash
# From a monitoring webhook's arrival to its incident on / and its mail
# handed to the SMTP server (the tests' aiosmtpd sink), median and p99 over
# N alerts (default 100), beside the admin API's own POST of the same
# incident, measured in the same run, interleaved.
#
#   bash benches/alerts.sh [postgres://postgres@127.0.0.1:5432/test]
#   N=300 bash benches/alerts.sh
#
# The goal (issue 16) is under 1 s. It runs the test build (debug):
# numbers are upper bounds of a release build's.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${1:-}" ]; then
  export CANDOR_TEST_DATABASE_URL="$1"
fi
CANDOR_ALERT_BENCH="${N:-100}" cargo test --test api alerts::latency_from_webhook_to_page_and_mail \
  -- --nocapture 2>&1 | grep -E '^alerts-bench:|test result|panicked'
