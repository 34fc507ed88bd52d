#!/usr/bin/env bash
# Reproducible benchmark: the gunzip floor, egresswatch end to end, and DuckDB and Polars with the
# same detection, on the same generated files (v2 text, v5 text, Parquet), pinned to one core and
# then two, every result set checked. BENCH_RECORDS=200000 for a quick run (default 5 000 000;
# 50 000 000 works too), BENCH_REPEAT=3 to keep the fastest of three runs, BENCH_PEERS=0 to skip
# DuckDB and Polars. Method and numbers: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${BENCH_RECORDS:-5000000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
target="$CARGO_TARGET_DIR"
dir="${BENCH_DIR:-$target/bench-corpus-$n}"
cargo build --release --locked --bin egresswatch --example gen_bench_corpus --example inflate_floor \
  --example parquet_floor
# The target folder may be shared with other worktrees building the same binaries: measure
# private copies of what this checkout just built.
mkdir -p "$target"
bin="$(mktemp -d "$target/bench-bin.XXXXXX")"
trap 'rm -rf "$bin"' EXIT
cp "$target/release/egresswatch" "$target/release/examples/gen_bench_corpus" \
  "$target/release/examples/inflate_floor" "$target/release/examples/parquet_floor" "$bin/"

# Regenerate when the corpus is missing, for another N, or from another generator version.
version="$("$bin/gen_bench_corpus" --version)"
if ! grep -qs "\"generator\": \"$version\"" "$dir/corpus.json" ||
   ! grep -qs "\"records\": $n," "$dir/corpus.json"; then
  "$bin/gen_bench_corpus" --records "$n" --out "$dir"
fi

if [ "$(id -u)" = 0 ]; then
  missing=()
  command -v pigz >/dev/null || missing+=(pigz)
  command -v libdeflate-gunzip >/dev/null || missing+=(libdeflate-tools)
  command -v taskset >/dev/null || missing+=(util-linux)
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || \
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
fi
venv="$target/bench-venv"
if [ "${BENCH_PEERS:-1}" != 0 ] && ! "$venv/bin/python" -c 'import duckdb, polars' >/dev/null 2>&1; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q duckdb==2.0.0 polars==2.1.0
fi
peers=()
[ "${BENCH_PEERS:-1}" != 0 ] || peers=(--no-peers)
python3 scripts/bench/run.py "$dir" --bin "$bin" --python "$venv/bin/python" \
  --rules rules/sagemaker-egress.toml --repeat "${BENCH_REPEAT:-1}" "${peers[@]}"
