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
  -max_total_time="$secs" -dict="$dict" -max_len=65536 -timeout=10 \
  -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tee "$log" | grep -E "^#[0-9]+ +(INITED|DONE|NEW)|ERROR|panicked" | tail -3 || true
if [ -f fuzz-0.log ]; then cat fuzz-0.log >> "$log"; rm -f fuzz-0.log; fi
grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb" "$log" || true
# Minimize into the committed corpus: a set cover of the features (smaller than -merge=1, what
# `cargo fuzz cmin` runs), inputs cut to a few KiB (Parquet files need their footer: 16 KiB) so
# the committed corpus stays small and its stable replay fast.
case $t in
  parquet) keep=16384 ;;
  text_differential) keep=1024 ;;
  *) keep=2048 ;;
esac
rm -rf "work/$t.min" && mkdir -p "work/$t.min"
"$CARGO_TARGET_DIR"/x86_64-unknown-linux-gnu/release/"$t" -set_cover_merge=1 -max_len=$keep "work/$t.min" "work/$t" >/dev/null 2>&1
# Then a byte budget per target (smallest inputs first), so the whole committed corpus stays
# well under 5 MB and replays in seconds.
budget=${BUDGET:-300000}
ls -Sr "work/$t.min" | awk -v d="work/$t.min" -v b="$budget" '{ cmd = "stat -c %s " d "/" $0; cmd | getline sz; close(cmd); tot += sz; if (tot > b) print d "/" $0 }' | xargs -r rm -f
rm -rf "corpus/$t" && mv "work/$t.min" "corpus/$t"
echo "corpus/$t: $(ls "corpus/$t" | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
