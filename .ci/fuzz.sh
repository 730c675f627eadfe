#!/usr/bin/env bash
# Builds the fuzz targets in fuzz/ (libFuzzer through libfuzzer-sys) and runs each one from its
# seed corpus (fuzz/corpus/<target>, from the simulator's answers: fuzz/seed_corpus.py).
#
#   bash .ci/fuzz.sh [SECONDS]            SECONDS in all (default 60), shared by the targets
#   FUZZ_RUNS=10000000 bash .ci/fuzz.sh   each target until it has run that many inputs
#   FUZZ_TARGETS="page batch" bash .ci/fuzz.sh 20   only these targets
#   FUZZ_MAX_LEN=8192                      largest input in bytes (default 65536)
#   FUZZ_JOBS=2                            run that many targets at a time (SECONDS is then
#                                          shared per lane; a campaign uses one lane per core)
#
# Built with the stable toolchain and no cargo-fuzz: the coverage instrumentation cargo-fuzz
# asks rustc for (sancov, 8-bit counters, PC table, comparison tracing) is plain `-C` flags,
# `--cfg fuzzing` is what libfuzzer-sys and arbitrary look for, and `--target` keeps the flags
# off build scripts and proc macros. No sanitizer (that needs nightly); the crates forbid
# `unsafe`, and the release profile keeps overflow checks and debug assertions on.
#
# Inputs found are kept in a temporary folder, not in the committed corpus. A crash (or a
# failed assertion, a timeout, running out of memory) is saved under .ci/out/fuzz/<target>/
# and the script fails; reproduce with `<binary> <file>`, then make it a unit test.
# Prints each target's executions and crashes, and `N passed, M failed` last.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
total=${1:-60}
start=$(date +%s)

host=$(rustc -vV | sed -n 's/^host: //p')
target_dir=${FUZZ_TARGET_DIR:-$root/target/fuzz}
out=$root/.ci/out/fuzz
mkdir -p "$out"

if ! command -v c++ >/dev/null; then # libfuzzer-sys compiles libFuzzer (C++)
  bash .ci/setup.sh >&2
fi

targets=()
while IFS= read -r t; do targets+=("$t"); done < <(
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^pim-fuzz$'
)
if [ -n "${FUZZ_TARGETS:-}" ]; then
  read -r -a targets <<<"$FUZZ_TARGETS"
fi

echo "== fuzz: build (${#targets[@]} targets)"
build_start=$(date +%s)
(
  cd fuzz
  CARGO_TARGET_DIR=$target_dir \
    RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cforce-frame-pointers" \
    cargo build --release --locked --target "$host" --bins
)
echo "fuzz: build $(($(date +%s) - build_start)) s"
bin=$target_dir/$host/release

jobs_max=${FUZZ_JOBS:-1} # targets run at the same time (a campaign: one per core)
case "$jobs_max" in '' | *[!0-9]* | 0) echo "FUZZ_JOBS must be a positive number" >&2; exit 2 ;; esac
per=$((total * jobs_max / ${#targets[@]}))
[ "$per" -ge 1 ] || per=1
work=$(mktemp -d /tmp/pim-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Runs one target; writes its result line to $work/<target>.result ("ok ..." or "FAIL ...").
run_target() {
  local t=$1 limit t_start rc secs execs crashes line
  mkdir -p "$work/$t" "$out/$t"
  if [ -n "${FUZZ_RUNS:-}" ]; then
    limit=(-runs="$FUZZ_RUNS")
  else
    limit=(-max_total_time="$per")
  fi
  t_start=$(date +%s)
  touch "$work/$t.start"
  set +e
  "$bin/$t" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -max_len="${FUZZ_MAX_LEN:-65536}" \
    -print_final_stats=1 -artifact_prefix="$out/$t/" \
    "$work/$t" "fuzz/corpus/$t" >"$work/$t.log" 2>&1
  rc=$?
  set -e
  secs=$(($(date +%s) - t_start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -n 1)
  # Artifacts this run wrote (crash-*, timeout-*, oom-*, leak-*).
  crashes=$(find "$out/$t" -maxdepth 1 -type f -newer "$work/$t.start" | wc -l)
  line=$(printf '%-18s %12s execs %6d s %4d crashes' "$t" "${execs:-?}" "$secs" "$crashes")
  if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
    echo "ok   $line" >"$work/$t.result"
    echo "fuzz: ok   $line"
  else
    echo "FAIL $line (exit $rc)" >"$work/$t.result"
    echo "fuzz: FAIL $line (exit $rc)"
    grep -E 'panicked|ERROR|SUMMARY|artifact_prefix|Test unit written' "$work/$t.log" |
      head -n 20 | sed 's/^/    /'
  fi
}

for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  if [ "$jobs_max" -eq 1 ]; then run_target "$t"; else run_target "$t" & fi
done
wait

passed=0
failed=0
results=()
for t in "${targets[@]}"; do
  r=$(cat "$work/$t.result" 2>/dev/null || echo "FAIL $t: no result")
  results+=("$r")
  case "$r" in ok*) passed=$((passed + 1)) ;; *) failed=$((failed + 1)) ;; esac
done

echo "== fuzz: $(($(date +%s) - start)) s in all"
printf '  %s\n' "${results[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
