#!/usr/bin/env bash
# The whole test suite: unit, integration (golden samples, bad input, property tests), CLI
# tests, and delivery tests against real receivers that the tests start on 127.0.0.1: HTTP
# receivers written in the tests, rsyslog (plain TCP and TLS), and the OCSF schema validator.
# This script installs what those need (Debian packages, a Python venv); nothing leaves loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v rsyslogd >/dev/null 2>&1 && [ ! -x /usr/sbin/rsyslogd ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing rsyslog (syslog receiver for the delivery tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq rsyslog rsyslog-openssl openssl >/dev/null
  else
    echo "note: rsyslog is missing and this is not root; syslog tests will be skipped (CI fails them)"
  fi
fi
# rsyslog's package may start a system daemon; the tests start their own instances and never
# touch it.

# tests/report.rs opens the evidence report in Debian's headless chromium (offline, no sandbox).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing chromium (headless browser for the report tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "note: chromium is missing and this is not root; tests/report.rs will fail"
  fi
fi

echo "== OCSF schema validator (Python venv, offline once installed)"
EGRESSWATCH_VALIDATOR_PYTHON="$(bash scripts/setup_validators.sh)"
export EGRESSWATCH_VALIDATOR_PYTHON

echo "== moto S3/SQS server (Python venv) for the S3-pipeline tests"
EGRESSWATCH_MOTO_PYTHON="$(bash scripts/setup_moto.sh)"
export EGRESSWATCH_MOTO_PYTHON

echo "== cfn-lint, checkov, aws-sam-translator (Python venv) for the deployment tests"
EGRESSWATCH_DEPLOY_TOOLS_PYTHON="$(bash scripts/setup_deploy_tools.sh)"
export EGRESSWATCH_DEPLOY_TOOLS_PYTHON

log="$(mktemp)"
set +e
cargo test --locked --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole suite (cargo prints one per test binary).
passed=$(grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
rm -f "$log"
mkdir -p target
echo "$passed passed, $failed failed" > target/test-totals
echo "tests: $passed passed, $failed failed"
exit "$status"
