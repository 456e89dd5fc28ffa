#!/usr/bin/env bash
# Fuzz one target the way the runs in README.md were made: one process, one
# job, libFuzzer's own log in logs/TARGET/fuzz-0.log, new inputs added to
# corpus/TARGET, findings in artifacts/TARGET/.
#
# usage: fuzz/run.sh TARGET [SECONDS] [more libFuzzer flags or corpus dirs...]
set -euo pipefail
cd "$(dirname "$0")"
fuzz=$(pwd)
target=${1:?usage: run.sh TARGET [SECONDS] [libFuzzer flags...]}
secs=${2:-600}
shift $(($# < 2 ? $# : 2))
# Inputs as large as production accepts: webhook bodies up to http.body_limit
# (256 KiB); e-mail large enough for superlinear parsing to show.
case $target in
  sms | social) len=262144 ;;
  email | email_text) len=131072 ;;
  *) len=65536 ;;
esac
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O "$target"
mkdir -p "logs/$target" "artifacts/$target" "corpus/$target"
cd "logs/$target"
exec "$fuzz/target/x86_64-unknown-linux-gnu/release/$target" \
  -max_total_time="$secs" -max_len="$len" -timeout=10 -rss_limit_mb=2048 \
  -jobs=1 -workers=1 -print_final_stats=1 \
  -artifact_prefix="$fuzz/artifacts/$target/" "$fuzz/corpus/$target" "$@"
