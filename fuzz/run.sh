#!/usr/bin/env bash
# Fuzzes one target for SECONDS (default 210) on one core, then minimizes its corpus into
# fuzz/corpus/TARGET (committed). Nightly and cargo-fuzz are needed; instrumented builds go to
# their own target dir. Crashes land in fuzz/artifacts/TARGET/: copy each to
# fuzz/regressions/TARGET/<what-it-broke> before fixing it, so tests/fuzz_corpus.rs replays it.
#
#   fuzz/seed.sh                 # once: seeds into fuzz/work/
#   fuzz/run.sh spool 240
set -euo pipefail
t=$1
secs=${2:-210}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/egresswatch/target-fuzz}
# Release with debug assertions (overflow checks on), no sanitizer: safe Rust gains little from
# ASan, and the instrumented ASan build of the AWS SDK tree is several times slower to build.
flags=(-O -a --sanitizer none)
case $t in
  text_differential|parquet) dict=dicts/flowlog.dict ;;
  rules_toml) dict=dicts/toml.dict ;;
  *) dict=dicts/json.dict ;;
esac
mkdir -p "work/$t" "corpus/$t"
cp -n corpus/"$t"/* "work/$t/" 2>/dev/null || true
log=work/$t.log
cargo +nightly fuzz run "${flags[@]}" "$t" "work/$t" -- \
  -max_total_time="$secs" -jobs=1 -workers=1 -dict="$dict" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tee "$log" | grep -E "^#[0-9]+ +(INITED|DONE|NEW)|ERROR|panicked" | tail -3 || true
grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
# Minimize into the committed corpus.
rm -rf "work/$t.min" && mkdir -p "work/$t.min"
"$CARGO_TARGET_DIR"/x86_64-unknown-linux-gnu/release/"$t" -merge=1 "work/$t.min" "work/$t" -max_len=65536 >/dev/null 2>&1
rm -rf "corpus/$t" && mv "work/$t.min" "corpus/$t"
echo "corpus/$t: $(ls "corpus/$t" | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
