#!/usr/bin/env bash
# Instructions per message for each stage of the policy path (parse, extract facts, decide),
# counted by callgrind: unlike the times of `cargo bench --bench decide`, they do not move with
# the machine's load, so before/after comparisons hold on a busy machine. Only the instructions
# inside the stage's function are counted (callgrind --toggle-collect), divided by N: the set-up
# is not counted. (A difference of two whole runs was used before; the set-up's hash tables
# have random seeds, which moved it by thousands of instructions per message.)
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
  valgrind --tool=callgrind --toggle-collect="decide_stages::run_$1" --callgrind-out-file=/dev/null \
    "$bin" "$1" "$runs" "$kind" 2>&1 | awk '/Collected/ {gsub(",", "", $4); print $4}'
}
for stage in parse facts decide; do
  total=$(count "$stage")
  echo "$stage ($kind): $(( total / runs )) instructions per message"
done
