#!/usr/bin/env bash
# The whole test suite: unit, integration (golden samples, bad input, property tests) and CLI tests.
# Later stages add servers they start themselves on 127.0.0.1 here; nothing leaves loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked --all-targets "$@"
