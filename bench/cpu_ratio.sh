#!/usr/bin/env bash
# bench/cpu_ratio.sh — supportgate's CPU per unit of the load generator's CPU, for A/B tests of
# two binaries (or settings) on a host whose speed moves (steal time: the rate and the CPU per
# message of one binary move by a fifth from one minute to the next, but smtp-source's CPU per
# message moves with them, so the ratio does not). See bench/README.md.
#
#   bench/cpu_ratio.sh N "BIN_A" "VAR=value BIN_B" ...    (run as root, like bench/relay.sh)
#
# Each argument is a binary, optionally after environment assignments for it. N rounds; each
# round runs every argument once, interleaved: bench/relay.sh throughput with MODES=supportgate
# (MESSAGES [40000] messages), and samples the CPU ticks of supportgate, smtp-source and
# smtp-sink over SAMPLE_SECS [6] seconds, from 2 s after the round's own smtp-source started
# (the warm-up's is not sampled).
# Prints per run: supportgate/smtp-source and smtp-sink/smtp-source CPU, the round's ack rate
# and supportgate's CPU per message as bench/relay.sh measured them.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export PATH=$PATH:/usr/sbin
[ $# -ge 2 ] || { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
N=$1; shift
MESSAGES=${MESSAGES:-40000}
SAMPLE_SECS=${SAMPLE_SECS:-6}
LOG=$(mktemp /tmp/cpu_ratio.XXXXXX)
trap 'rm -f "$LOG"' EXIT
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
for _ in $(seq "$N"); do
    for run in "$@"; do
        read -r -a words <<<"$run"
        bin=${words[-1]}
        envs=("${words[@]:0:${#words[@]}-1}")
        env "${envs[@]}" SUPPORTGATE_BIN="$bin" MODES=supportgate MESSAGES="$MESSAGES" ROUNDS=1 WARMUP=500 \
            bash "$HERE/relay.sh" throughput >"$LOG" 2>&1 &
        bench=$!
        # The round's own smtp-source (-m MESSAGES; the warm-up's has -m 500), then 2 s into it.
        src=""
        for _ in $(seq 600); do
            src=$(pgrep -f "^smtp-source .*-m $MESSAGES " | head -1 || true)
            [ -n "$src" ] && break
            kill -0 "$bench" 2>/dev/null || break
            sleep 0.1
        done
        sleep 2
        sg=$(pgrep -f ' serve --config' | head -1 || true)
        sink=$(pgrep -x smtp-sink | tail -1 || true)
        if [ -z "$sg" ] || [ -z "$src" ] || [ -z "$sink" ]; then
            wait "$bench" || true; echo "$run | no round running (see bench/relay.sh)"; continue
        fi
        a0=$(ticks "$sg"); b0=$(ticks "$src"); c0=$(ticks "$sink")
        sleep "$SAMPLE_SECS"
        a1=$(ticks "$sg"); b1=$(ticks "$src"); c1=$(ticks "$sink")
        wait "$bench" || true
        round=$(grep '^round' "$LOG" | awk '{ print $9 " msg/s, " $(NF-1) " us/msg" }')
        if [ -z "$round" ] || [ "$b1" -le "$b0" ] || [ "$a1" -le "$a0" ] || [ "$c1" -le "$c0" ] || ! grep -q '^round.* OK' "$LOG"; then
            kept=$(mktemp /tmp/cpu_ratio-incomplete.XXXXXX)
            cp "$LOG" "$kept"
            echo "$run | round incomplete: not a result (its log: $kept)"; continue
        fi
        awk -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v c=$((c1 - c0)) -v run="$run" -v round="$round" \
            'BEGIN { printf "%s | supportgate/smtp-source %.3f  smtp-sink/smtp-source %.3f | %s\n", run, a / b, c / b, round }'
    done
done
