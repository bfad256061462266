#!/usr/bin/env bash
# bench/milter.sh — what the milter front costs Postfix (issue 17 §6). See bench/README.md.
#
#   sudo bench/milter.sh
#
# Three modes, interleaved rounds, one smtp-sink as the final receiver for all:
#   postfix-plain   smtp-source -> Postfix smtpd -> queue -> smtp -> smtp-sink
#   postfix-milter  the same smtpd with smtpd_milters = supportgate's [milter] listen
#   postfix-proxy   the before-queue proxy reference of bench/relay.sh (smtpd_proxy_filter = sink)
# A round ends when the sink has every message; a round where smtp-source failed or the sink
# got fewer is FAIL and left out. Goal: postfix-milter >= 0.7 x postfix-plain.
#
# Environment (defaults in brackets): MESSAGES [5000] per round and mode, SESSIONS [20],
# SIZE [10240], ROUNDS [3], WARMUP [200], MODES ["postfix-plain postfix-milter postfix-proxy"],
# SUPPORTGATE_BIN [target/release/supportgate], ROUND_TIMEOUT [900] s, KEEP [0].
# Everything listens on 127.0.0.1; Postfix is a private instance from bench/postfix/*.in.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
MESSAGES=${MESSAGES:-5000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-10240}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-200}
MODES=${MODES:-"postfix-plain postfix-milter postfix-proxy"}
SUPPORTGATE_BIN=${SUPPORTGATE_BIN:-target/release/supportgate}
ROUND_TIMEOUT=${ROUND_TIMEOUT:-900}
KEEP=${KEEP:-0}
case $SUPPORTGATE_BIN in /*) ;; *) SUPPORTGATE_BIN=$REPO/$SUPPORTGATE_BIN ;; esac
for v in MESSAGES SESSIONS SIZE ROUNDS WARMUP ROUND_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "milter.sh: $v must be a number" >&2; exit 2; }
done
for m in $MODES; do
    case $m in postfix-plain|postfix-milter|postfix-proxy) ;;
        *) echo "milter.sh: unknown mode '$m'" >&2; exit 2 ;; esac
done

die() { echo "milter.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
[ "$(id -u)" = 0 ] || die "run as root (the Postfix master and smtp-sink -u need it)"
for c in smtp-source smtp-sink postfix postconf python3 timeout awk sed; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found: run scripts/install-test-deps.sh"
done
[ -x "$SUPPORTGATE_BIN" ] || die "$SUPPORTGATE_BIN not found (cargo build --release)"

WORK=$(mktemp -d /tmp/supportgate-milter-bench.XXXXXX)
chmod 755 "$WORK"
SINK_PID="" SG_PID="" CHILD_PID="" PF_CONF="" FAILED=0

stop_pid() { # PID [seconds]: TERM, wait, KILL; only processes started here
    local pid=$1 wait=${2:-10} i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    for ((i = 0; i < wait * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    set +e
    stop_pid "$CHILD_PID" 5
    if [ -n "$PF_CONF" ]; then
        timeout 30 postfix -c "$PF_CONF" stop >/dev/null 2>&1 || timeout 10 postfix -c "$PF_CONF" abort >/dev/null 2>&1
    fi
    stop_pid "$SG_PID" 35
    stop_pid "$SINK_PID" 5
    if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "milter.sh: interrupted" >&2; exit 130' INT TERM HUP

wait_port() { # PORT SECONDS
    local end=$(($(date +%s) + $2))
    while [ "$(date +%s)" -lt "$end" ]; do
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
read -r SINK_PORT PROXY_PORT CHAIN_PORT REINJECT_PORT PLAIN_PORT MILTER_SMTPD_PORT MILTER_PORT SG_PORT <<<"$(python3 -c '
import socket
s = [socket.socket() for _ in range(8)]
for x in s: x.bind(("127.0.0.1", 0))
print(" ".join(str(x.getsockname()[1]) for x in s))')"

# --- smtp-sink: "mesg=N" running counter ---------------------------------------------------
smtp-sink -u nobody -c -m 1024 "127.0.0.1:$SINK_PORT" 1024 >"$WORK/sink.out" 2>"$WORK/sink.err" &
SINK_PID=$!
wait_port "$SINK_PORT" 10 || die "smtp-sink did not start: $(cat "$WORK/sink.err")"
sink_count() {
    local n
    n=$(tail -c 512 "$WORK/sink.out" | LC_ALL=C grep -ao $'mesg=[0-9]*\r' | tail -n 1 | tr -dc 0-9 || true)
    echo "${n:-0}"
}

# --- supportgate: the shipped configuration, milter on, SMTP front on a spare port ----------
SG=$WORK/supportgate
mkdir -p "$SG/etc" "$WORK/var"
ln -s "$REPO/config/templates" "$SG/etc/templates"
cat >"$SG/etc/directory.toml" <<'DIR'
# bench directory: the smtp-source sender owns account acme: every message is forwarded.
[[account]]
id = "acme"
name = "Acme SAS (bench)"
language = "en"

[[account.agent]]
name = "Bench Sender"
role = "owner"
emails = ["sender@acme.example"]
DIR
sed -e "s#^listen = \[\"127.0.0.1:2525\"\]#listen = [\"127.0.0.1:$SG_PORT\"]#" \
    -e "s#^\# listen = \"127.0.0.1:10027\"#listen = \"127.0.0.1:$MILTER_PORT\"#" \
    -e 's|^listen = "127.0.0.1:9325"|# (no metrics listener in the bench)|' \
    -e 's|^sender_messages = 20$|sender_messages = 100000000 # one smtp-source sender: no mail-loop|' \
    "$REPO/config/supportgate.toml" >"$SG/etc/supportgate.toml"
grep -q "^listen = \"127.0.0.1:$MILTER_PORT\"" "$SG/etc/supportgate.toml" || die "config/supportgate.toml: [milter] listen line not found"
grep -q "^sender_messages = 100000000" "$SG/etc/supportgate.toml" || die "config/supportgate.toml: [limits] sender_messages line not found"
timeout 30 "$SUPPORTGATE_BIN" config check --config "$SG/etc/supportgate.toml" >"$SG/check.out" 2>&1 \
    || { cat "$SG/check.out"; die "config check failed"; }
( ulimit -n 65536 2>/dev/null || true
  exec env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u NOTIFY_SOCKET \
      "$SUPPORTGATE_BIN" serve --config "$SG/etc/supportgate.toml" ) >"$SG/serve.log" 2>&1 &
SG_PID=$!
wait_port "$MILTER_PORT" 30 || { tail -n 20 "$SG/serve.log"; die "supportgate milter not listening"; }

# --- Postfix: bench/postfix/*.in plus the two milter-bench services --------------------------
PFB=$WORK/postfix
PF_CONF=$PFB/etc
mkdir -p "$PF_CONF" "$PFB/queue" "$PFB/data"
chown postfix "$PFB/data"
fill() {
    sed -e "s#@BASE@#$PFB#g" -e "s/@SINK_PORT@/$SINK_PORT/g" -e "s/@PROXY_PORT@/$PROXY_PORT/g" \
        -e "s/@CHAIN_PORT@/$CHAIN_PORT/g" -e "s/@REINJECT_PORT@/$REINJECT_PORT/g" \
        -e "s/@PLAIN_PORT@/$PLAIN_PORT/g" -e "s/@MILTER_SMTPD_PORT@/$MILTER_SMTPD_PORT/g" \
        -e "s/@MILTER_PORT@/$MILTER_PORT/g" "$@"
}
fill "$HERE/postfix/main.cf.in" >"$PF_CONF/main.cf"
fill "$HERE/postfix/master.cf.in" "$HERE/postfix/milter-master.cf.in" >"$PF_CONF/master.cf"
! grep -q '@[A-Z_]*@' "$PF_CONF/main.cf" "$PF_CONF/master.cf" || die "unfilled placeholder"
timeout 60 postfix -c "$PF_CONF" check || die "postfix check failed"
timeout 60 postfix -c "$PF_CONF" start >/dev/null 2>&1 || { tail -n 20 "$PFB/maillog" >&2; die "postfix start failed"; }
for p in "$PLAIN_PORT" "$MILTER_SMTPD_PORT" "$PROXY_PORT"; do
    wait_port "$p" 20 || die "Postfix is not listening on 127.0.0.1:$p"
done

read -r LOAD1 LOAD5 _ </proc/loadavg
echo "== supportgate milter bench ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo "host: $(nproc) CPU, load average $LOAD1 $LOAD5$(awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { if (l > n / 2) printf "  (busy machine: numbers will be noisy)" }')"
echo "postfix $(postconf -d mail_version 2>/dev/null | sed 's/.*= //'); supportgate $("$SUPPORTGATE_BIN" --version 2>/dev/null) (milter 127.0.0.1:$MILTER_PORT)"
echo "== $MESSAGES messages of $SIZE bytes, $SESSIONS sessions, one connection per message, $ROUNDS interleaved rounds: $MODES"

mode_port() {
    case $1 in postfix-plain) echo "$PLAIN_PORT" ;; postfix-milter) echo "$MILTER_SMTPD_PORT" ;; postfix-proxy) echo "$PROXY_PORT" ;; esac
}
run_source() { # MODE COUNT OUT
    timeout "$ROUND_TIMEOUT" smtp-source -s "$SESSIONS" -m "$2" -l "$SIZE" -S "milter benchmark" \
        -M bench.acme.example -f sender@acme.example -t support@vendor.example \
        "127.0.0.1:$(mode_port "$1")" >"$3" 2>&1 &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}
wait_sink() { # TARGET SECONDS: sets SINK_N
    local end=$(($(date +%s) + $2))
    SINK_N=$(sink_count)
    while [ "$SINK_N" -lt "$1" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; SINK_N=$(sink_count); done
}
RESULTS=$WORK/results.tsv
: >"$RESULTS"
round() { # R MODE COUNT: timed until the sink has COUNT more
    local r=$1 mode=$2 n=$3 out=$WORK/source.$2.$1.out before t0 rc=0 secs got
    before=$(sink_count)
    t0=$(now)
    run_source "$mode" "$n" "$out" || rc=$?
    [ "$rc" = 0 ] && wait_sink $((before + n)) "$ROUND_TIMEOUT"
    secs=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
    got=$(($(sink_count) - before))
    [ "$r" = warmup ] && { [ "$rc" = 0 ] && [ "$got" -eq "$n" ] || { echo "warm-up $mode: FAIL"; FAILED=1; }; return 0; }
    if [ "$rc" = 0 ] && [ "$got" -eq "$n" ]; then
        printf '%s\t%s\n' "$mode" "$secs" >>"$RESULTS"
        status=OK
    else
        status="FAIL (smtp-source exit $rc, sink +$got of $n: $(tail -n 1 "$out" | tr -d '\r'))"
        FAILED=1
    fi
    printf 'round %s  %-15s %6d msgs %9.3f s %8.1f msg/s  %s\n' "$r" "$mode" "$n" "$secs" \
        "$(awk -v n="$n" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')" "$status"
}
if [ "$WARMUP" -gt 0 ]; then
    for mode in $MODES; do round warmup "$mode" "$WARMUP"; done
fi
for ((r = 1; r <= ROUNDS; r++)); do
    for mode in $MODES; do round "$r" "$mode" "$MESSAGES"; done
done
# The milter really was asked: one "milter: answered" line per message through postfix-milter.
case " $MODES " in *" postfix-milter "*)
    answered=$(grep -c 'milter: answered' "$SG/serve.log" || true)
    expected=$((ROUNDS * MESSAGES + WARMUP))
    echo "supportgate answered $answered milter messages (expected $expected)"
    [ "$answered" -ge "$expected" ] || FAILED=1 ;;
esac
python3 - "$RESULTS" "$MESSAGES" "$MODES" <<'PY'
import statistics, sys
path, n, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
rates = {m: [] for m in modes}
for line in open(path):
    mode, secs = line.split("\t")
    rates[mode].append(n / float(secs))
med = {m: statistics.median(v) for m, v in rates.items() if v}
print("== medians (msg/s, successful rounds only)")
for m in modes:
    shown = ", ".join(f"{x:.0f}" for x in rates[m])
    print(f"   {m:<15} {med[m]:8.1f} msg/s  ({shown})" if m in med else f"   {m:<15}      n/a")
if "postfix-milter" in med and "postfix-plain" in med:
    r = med["postfix-milter"] / med["postfix-plain"]
    print(f"   postfix-milter/postfix-plain = {r:.2f}  (goal >= 0.70: {'met' if r >= 0.7 else 'NOT met'})")
if "postfix-proxy" in med and "postfix-plain" in med:
    print(f"   postfix-proxy/postfix-plain = {med['postfix-proxy'] / med['postfix-plain']:.2f}")
PY
[ "$FAILED" = 0 ] && echo "milter.sh: done" || echo "milter.sh: done, with failures (see above)"
exit "$FAILED"
