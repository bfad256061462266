#!/usr/bin/env bash
# Runs every fuzz target for N seconds (default 20) on its corpus, one after another, and fails
# if any of them finds a crash (the input is then in fuzz/artifacts/<target>/).
# Needs `cargo +nightly fuzz`; without it, says how to install it and exits 0.
#
#   fuzz/smoke.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
targets=(data_reader smtp_session message_decision config_parser directory_parser milter_codec spool_record)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "smoke.sh: cargo-fuzz or the nightly toolchain is missing; skipped." >&2
    echo "  install: rustup toolchain install nightly && cargo install cargo-fuzz --locked" >&2
    exit 0
fi

[ -d corpus/data_reader ] || ./seed.sh >/dev/null
cd ..
# -O: release builds without debug assertions, like the gateway's own builds. With cargo-fuzz's
# default (debug assertions on in every crate) mail-parser 0.11.9's `debug_assert!(false, "Invalid
# part ID…")` aborts message_decision on malformed multipart mail that the gateway decides
# normally (fuzz/regressions/message_decision/, replayed by tests/fuzz_regressions.rs).
cargo +nightly fuzz build -O || exit 1

failed=()
for target in "${targets[@]}"; do
    start=$(date +%s)
    log=$(mktemp)
    cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "$target: ${runs:-?} runs, ${cov:-cov: ?}, $(($(date +%s) - start)) s, exit $status"
    if [ "$status" -ne 0 ]; then
        grep -m1 -A2 'panicked at\|ERROR: libFuzzer' "$log"
        failed+=("$target")
    fi
    rm -f "$log"
done
if [ "${#failed[@]}" -ne 0 ]; then
    echo "smoke.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
