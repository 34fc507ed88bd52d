#!/usr/bin/env bash
# Reproducible benchmark: the gunzip floor, egresswatch end to end, and DuckDB and Polars on the
# same files with the same query, pinned to one core and then two. BENCH_RECORDS=200000 for a
# quick run (default 5 000 000). Results: see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${BENCH_RECORDS:-5000000}"
dir="${BENCH_DIR:-target/bench-corpus-$n}"
cargo build --release --locked --bin egresswatch --example gen_bench_corpus --example inflate_floor
if [ ! -f "$dir/expected.tsv" ]; then
  target/release/examples/gen_bench_corpus --records "$n" --out "$dir"
fi
if [ "$(id -u)" = 0 ]; then
  missing=()
  command -v pigz >/dev/null || missing+=(pigz)
  command -v libdeflate-gunzip >/dev/null || missing+=(libdeflate-tools)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || \
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
fi
venv=target/bench-venv
if ! "$venv/bin/python" -c 'import duckdb, polars' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q duckdb==2.0.0 polars==2.1.0
fi
python3 scripts/bench/run.py "$dir" samples/inventory "$venv/bin/python"
