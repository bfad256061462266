#!/usr/bin/env bash
# Instructions per message for each stage of the policy path (parse, extract facts, decide),
# counted by callgrind: unlike the times of `cargo bench --bench decide`, they do not move with
# the machine's load, so before/after comparisons hold on a busy machine. Each count is
# (run of N) - (run of 0), divided by N, so the set-up is not counted.
#
#   bench/instructions.sh            # the 10 KB text message
#   bench/instructions.sh alternative  # the 10 KB multipart/alternative message
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
kind=${1:-text}
runs=${RUNS:-2000}
cargo build --release --quiet --example decide_stages
bin=target/release/examples/decide_stages
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$kind" 2>&1 \
    | awk '/Collected/ {gsub(",", "", $4); print $4}'
}
for stage in parse facts decide; do
  base=$(count "$stage" 0)
  total=$(count "$stage" "$runs")
  echo "$stage ($kind): $(( (total - base) / runs )) instructions per message"
done
