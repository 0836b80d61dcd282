#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads network bytes: builds
# the libFuzzer targets in fuzz/ (a cargo-fuzz project) and runs each, one
# job, for a number of executions or seconds, starting from the committed
# corpus in fuzz/corpus/<target>/ (new inputs go to a scratch folder; the
# corpus is not changed unless --merge). Prints a table and exits 1 if any
# target crashed; crashing inputs are kept in fuzz/artifacts/<target>/.
#
#   bash scripts/fuzz.sh                         # every target, 1,000,000 executions
#   bash scripts/fuzz.sh --runs 10000000 netstack wg_session
#   bash scripts/fuzz.sh --seconds 60            # every target for a minute
#   bash scripts/fuzz.sh --sanitizer address     # AddressSanitizer (needs RUSTC_BOOTSTRAP)
#   bash scripts/fuzz.sh --ci                    # what scripts/test.sh runs: 20,000 each
#   bash scripts/fuzz.sh --merge                 # then add inputs with new coverage to the corpus
#   bash scripts/fuzz.sh --cmin                  # only minimise each corpus (libFuzzer's set-cover merge)
#   bash scripts/fuzz.sh --max-len 128 ...       # inputs (and a --cmin's) cut to 128 bytes
#
# The build is what `cargo fuzz build -O --sanitizer none` (cargo-fuzz 0.13)
# runs, done here with cargo so that CI needs no cargo-fuzz: the binaries land
# where cargo-fuzz puts them, so `cargo fuzz run/cmin/tmin` reuse them. The
# default is no sanitizer: the targets are safe Rust (their dependencies'
# unsafe code is the only thing AddressSanitizer would add), and without it
# the build is about twice as fast and runs three times as many executions.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000000
seconds=
sanitizer=none
merge=
cmin=
max_len=()
targets=()
while (($#)); do
  case $1 in
    --runs) runs=$2; seconds=; shift 2 ;;
    --seconds) seconds=$2; runs=; shift 2 ;;
    --sanitizer) sanitizer=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    --cmin) cmin=1; shift ;;
    --max-len) max_len=(-max_len="$2"); shift 2 ;;
    --ci) runs=${WINGRESS_FUZZ_RUNS:-20000}; seconds=; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if ((${#targets[@]} == 0)); then
  for f in fuzz/fuzz_targets/*.rs; do targets+=("$(basename "$f" .rs)"); done
fi

triple=$(rustc -vV | sed -n 's/^host: //p')
flags=(
  -Cpasses=sancov-module
  -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
  -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares
  --cfg fuzzing
  -Cllvm-args=-simplifycfg-branch-fold-threshold=0
  -Cllvm-args=-sanitizer-coverage-stack-depth
  -Cdebug-assertions
  -Ccodegen-units=1
)
case $sanitizer in
  none) ;;
  address) flags+=(-Zsanitizer=address); export RUSTC_BOOTSTRAP=1 ;;
  *) echo "fuzz.sh: --sanitizer is none or address" >&2; exit 64 ;;
esac

build_start=$SECONDS
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
# fuzz/target whatever CARGO_TARGET_DIR says: cargo-fuzz looks there too.
RUSTFLAGS="${flags[*]}" cargo build --manifest-path fuzz/Cargo.toml --locked --release \
  --target "$triple" --target-dir fuzz/target --config 'profile.release.debug="line-tables-only"' \
  "${bins[@]}"
echo "fuzz.sh: built ${#targets[@]} targets in $((SECONDS - build_start)) s (sanitizer: $sanitizer)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if [[ -n $cmin ]]; then
  # A small set of inputs with the corpus's coverage, in place (the
  # set-cover merge keeps fewer inputs than `-merge=1`, which `cargo fuzz
  # cmin` runs).
  for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    "fuzz/target/$triple/release/$t" -set_cover_merge=1 "${max_len[@]}" "$scratch/$t" "fuzz/corpus/$t" \
      >"$scratch/$t.log" 2>&1
    rm -rf "fuzz/corpus/$t" && mv "$scratch/$t" "fuzz/corpus/$t"
    echo "fuzz.sh: $t: $(find "fuzz/corpus/$t" -type f | wc -l) inputs, $(find "fuzz/corpus/$t" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }') bytes"
  done
  exit 0
fi
limit=${runs:+-runs=$runs}
limit=${limit:--max_total_time=$seconds}
crashed=0
rows=()
for t in "${targets[@]}"; do
  bin=fuzz/target/$triple/release/$t
  artifacts=fuzz/artifacts/$t
  mkdir -p "$artifacts" "$scratch/$t" "fuzz/corpus/$t"
  log=$scratch/$t.log
  touch "$scratch/$t.start"
  start=$(date +%s.%N)
  status=0
  "$bin" "$limit" "${max_len[@]}" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" "$scratch/$t" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
  end=$(date +%s.%N)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  if [[ -n $merge && $status == 0 ]]; then
    "$bin" -merge=1 "fuzz/corpus/$t" "$scratch/$t" >>"$log" 2>&1 || status=$?
  fi
  mapfile -t found < <(find "$artifacts" -type f -newer "$scratch/$t.start" | sort)
  if ((status != 0 || ${#found[@]} > 0)); then
    crashed=1
    echo "fuzz.sh: $t failed (exit $status); the end of its log:" >&2
    tail -n 40 "$log" >&2
    for f in "${found[@]}"; do echo "fuzz.sh: input $f (base64 $(base64 -w0 "$f"))" >&2; done
  fi
  rows+=("$(awk -v t="$t" -v n="$execs" -v a="$start" -v b="$end" -v c="${#found[@]}" \
    'BEGIN { s = b - a; printf "%-14s %12d %9.1f %9d %12d", t, n, s, n / (s > 0 ? s : 1), c }')")
done

printf '%-14s %12s %9s %9s %12s\n' target executions seconds exec/s "new crashes"
printf '%s\n' "${rows[@]}"
exit "$crashed"
