#!/usr/bin/env bash
# Builds the seed corpora (unminimized) under fuzz/work/<target>/ from samples/, tests/golden,
# rules/, hand-written cases (fuzz/seed.py) and the seeds only the library can write (window and
# baseline state, ledger lines, a checkpoint: examples/fuzz_seeds.rs). Minimize with
# fuzz/cmin.sh afterwards. Run from anywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/fuzz/work}
cd "$root"
rm -rf "$out"
python3 fuzz/seed.py "$out"
cargo run --quiet --example fuzz_seeds -- "$out"
for d in "$out"/*/; do echo "$(ls "$d" | wc -l) seeds in $d"; done
