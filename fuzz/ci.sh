#!/usr/bin/env bash
# The fuzz targets' CI step (called by .ci/run; README.md "In CI"): build
# every target and replay its committed corpus once through libFuzzer, and
# run the checks' own tests (every fixture seed passes its target). No
# fuzzing and no instrumentation, so it needs neither cargo-fuzz nor
# nightly features, and it shares target/ with the main workspace: the
# dependencies `cargo test --workspace` built are reused.
#
# PINTU_FUZZ_INSTRUMENTED=1 instead builds and replays with cargo fuzz
# (AddressSanitizer, coverage), installing cargo-fuzz if it is missing; that
# build takes much longer and goes to fuzz/target.
set -euo pipefail
cd "$(dirname "$0")"

targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^pintu-fuzz$')

cargo fmt --all -- --check

if [ "${PINTU_FUZZ_INSTRUMENTED:-0}" = 1 ]; then
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  export RUSTC_BOOTSTRAP=1
  cargo fuzz build -O
  for t in $targets; do
    cargo fuzz run -O "$t" "corpus/$t" -- -runs=0
  done
  exit 0
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd .. && pwd)/target}"
# (The time bounds scale themselves by 20 in this unoptimised build.)
cargo clippy --all-targets -- -D warnings
cargo test -p pintu-fuzz-checks
cargo build --bins
for t in $targets; do
  echo "fuzz: replaying corpus/$t ($(ls "corpus/$t" | wc -l) inputs)"
  "$CARGO_TARGET_DIR/debug/$t" -runs=0 "corpus/$t" 2>&1 | tail -n 3
  # tail hides libFuzzer's exit status; pipefail keeps it.
done
