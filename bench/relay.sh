#!/usr/bin/env bash
# bench/relay.sh — relay throughput of supportgate against Postfix and the loopback limit, and
# memory of supportgate with many idle sessions. See bench/README.md.
#
#   bench/relay.sh [all|throughput|backlog|idle]    (default: all; run as root)
#
# Environment (defaults in brackets):
#   MESSAGES [20000]  messages per round and mode      SESSIONS [20]  parallel smtp-source sessions
#   SIZE [10240]      payload bytes per message        ROUNDS [3]     interleaved rounds
#   MODES ["direct postfix-proxy postfix-chain supportgate"]
#                     supportgate forwards to an smtp:// target, so its [spool] is on (the
#                     default): each message is fsync'd before the 250. Every round reports
#                     two figures: acknowledged (smtp-source done: every 250 received) and end
#                     to end (the sink has them all). postfix-chain is Postfix queueing (fsync),
#                     then delivering to the sink: the durable reference of issue 12.
#   BACKLOG [50000]   backlog phase: messages spooled while the upstream is down, before the
#                     ack rate is measured again (MESSAGES of them) and the upstream returns
#   IDLE_CPU_SECS [10] backlog phase: how long the idle server's CPU time is sampled
#   WARMUP [200]      untimed messages per mode before round 1
#   REUSE [0]         1: smtp-source -d (all messages of a session over one connection);
#                     0: one connection per message, like independent inbound MTAs
#   SUPPORTGATE_BIN [target/release/supportgate]       relative to the repository unless absolute
#   SG_CONFIG [config/supportgate.toml]  the configuration the bench one is generated from (an
#                     older binary needs its own, e.g. from a worktree of its commit)
#   SG_SPOOL [on]     off: supportgate with [spool] enabled = false (synchronous relay: the
#                     client's 250 after the sink's 250); on: the durable default
#   IDLE_SESSIONS [1000]  IDLE_HOLD [5] seconds  IDLE_MAX_RSS_MIB [64]
#   ROUND_TIMEOUT [900] seconds per smtp-source run    KEEP [0]  1: keep the work directory
#
# Every listener is on 127.0.0.1. Postfix runs as a private instance (its own config_directory,
# queue_directory and data_directory in a temporary directory), never the system instance.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")

PHASE=${1:-all}
case $PHASE in all|throughput|backlog|idle) ;; -h|--help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: $0 [all|throughput|backlog|idle]" >&2; exit 2 ;; esac

MESSAGES=${MESSAGES:-20000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-10240}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-"direct postfix-proxy postfix-chain supportgate"}
BACKLOG=${BACKLOG:-50000}
IDLE_CPU_SECS=${IDLE_CPU_SECS:-10}
WARMUP=${WARMUP:-200}
REUSE=${REUSE:-0}
IDLE_SESSIONS=${IDLE_SESSIONS:-1000}
IDLE_HOLD=${IDLE_HOLD:-5}
IDLE_MAX_RSS_MIB=${IDLE_MAX_RSS_MIB:-64}
ROUND_TIMEOUT=${ROUND_TIMEOUT:-900}
KEEP=${KEEP:-0}
SUPPORTGATE_BIN=${SUPPORTGATE_BIN:-target/release/supportgate}
SG_SPOOL=${SG_SPOOL:-on}
SG_CONFIG=${SG_CONFIG:-$REPO/config/supportgate.toml}
case $SG_SPOOL in on|off) ;; *) echo "relay.sh: SG_SPOOL must be on or off, got '$SG_SPOOL'" >&2; exit 2 ;; esac
case $SUPPORTGATE_BIN in /*) ;; */*) [ -e "$SUPPORTGATE_BIN" ] || SUPPORTGATE_BIN=$REPO/$SUPPORTGATE_BIN ;; esac

FROM=sender@acme.example
TO=support@vendor.example
SUBJECT="relay benchmark"
HELO=bench.acme.example

for v in MESSAGES SESSIONS SIZE ROUNDS WARMUP BACKLOG IDLE_CPU_SECS IDLE_SESSIONS IDLE_HOLD IDLE_MAX_RSS_MIB ROUND_TIMEOUT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "relay.sh: $v must be a number, got '${!v}'" >&2; exit 2; }
done
for m in $MODES; do
    case $m in direct|postfix-proxy|postfix-chain|supportgate) ;;
        *) echo "relay.sh: unknown mode '$m' (direct postfix-proxy postfix-chain supportgate)" >&2; exit 2 ;; esac
done

die() { echo "relay.sh: $*" >&2; exit 1; }
say() { printf '%s\n' "$*"; }
now() { date +%s.%N; }
cpu_ticks() { # PID: user + system clock ticks so far
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

[ "$(id -u)" = 0 ] || die "run as root (the Postfix master and smtp-sink -u need it)"
for c in smtp-source smtp-sink postfix postconf python3 timeout awk sed; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found: run scripts/install-test-deps.sh (PATH needs /usr/sbin)"
done

WORK=$(mktemp -d /tmp/supportgate-bench.XXXXXX)
chmod 755 "$WORK"   # the postfix user must reach the queue and data directories below
SINK_PID=""
BACKLOG_SINK_PID=""
SG_PID=""
CHILD_PID=""
PF_CONF=""
FAILED=0

# --- process helpers ------------------------------------------------------------------------

stop_pid() { # PID [seconds]: TERM, wait, KILL. Only processes this script started.
    local pid=$1 wait=${2:-10} i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

postfix_stop() {
    [ -n "$PF_CONF" ] && [ -f "$PF_CONF/main.cf" ] || return 0
    local pidfile=$WORK/postfix/queue/pid/master.pid pid="" i
    [ -f "$pidfile" ] && pid=$(tr -dc 0-9 <"$pidfile")
    timeout 30 postfix -c "$PF_CONF" stop >/dev/null 2>&1 || true
    if [ -n "$pid" ]; then
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            timeout 10 postfix -c "$PF_CONF" abort >/dev/null 2>&1 || true
            sleep 1
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    PF_CONF=""
}

cleanup() {
    local rc=$?
    set +e
    stop_pid "$CHILD_PID" 5
    postfix_stop
    stop_pid "$SG_PID" 35
    SG_PID=""
    stop_pid "$SINK_PID" 5
    SINK_PID=""
    stop_pid "$BACKLOG_SINK_PID" 5
    BACKLOG_SINK_PID=""
    if [ "$KEEP" = 1 ]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "relay.sh: interrupted" >&2; exit 130' INT TERM HUP

free_ports() { # N: N distinct free loopback ports
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

wait_port() { # PORT SECONDS [PID]: until something accepts on 127.0.0.1:PORT
    local port=$1 secs=$2 pid=${3:-} end
    end=$(($(date +%s) + secs))
    while [ "$(date +%s)" -lt "$end" ]; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# --- the sink -----------------------------------------------------------------------------

read -r SINK_PORT PROXY_PORT CHAIN_PORT REINJECT_PORT SG_PORT BACKLOG_PORT <<<"$(free_ports 6)"

start_sink() {
    # -c: running counters "sess=N quit=N mesg=N\r" on stdout, one update per event.
    smtp-sink -u nobody -c -m 1024 "127.0.0.1:$SINK_PORT" 1024 >"$WORK/sink.out" 2>"$WORK/sink.err" &
    SINK_PID=$!
    wait_port "$SINK_PORT" 10 "$SINK_PID" || die "smtp-sink did not start: $(cat "$WORK/sink.err")"
}

sink_count() { # [OUTFILE]: messages the sink has received so far ("." completed)
    local n
    n=$(tail -c 512 "${1:-$WORK/sink.out}" | LC_ALL=C grep -ao $'mesg=[0-9]*\r' | tail -n 1 | tr -dc 0-9 || true)
    echo "${n:-0}"
}

# --- Postfix --------------------------------------------------------------------------------

start_postfix() {
    local base=$WORK/postfix f
    PF_CONF=$base/etc
    mkdir -p "$PF_CONF" "$base/queue" "$base/data"
    chown postfix "$base/data"
    for f in main.cf master.cf; do
        sed -e "s#@BASE@#$base#g" -e "s/@SINK_PORT@/$SINK_PORT/g" -e "s/@PROXY_PORT@/$PROXY_PORT/g" \
            -e "s/@CHAIN_PORT@/$CHAIN_PORT/g" -e "s/@REINJECT_PORT@/$REINJECT_PORT/g" \
            "$HERE/postfix/$f.in" >"$PF_CONF/$f"
    done
    if grep -q '@[A-Z_]*@' "$PF_CONF/main.cf" "$PF_CONF/master.cf"; then die "unfilled placeholder in bench/postfix/*.in"; fi
    timeout 60 postfix -c "$PF_CONF" check || die "postfix check -c $PF_CONF failed (see $base/maillog)"
    if [ -s "$base/maillog" ] && grep -q 'warning' "$base/maillog"; then
        say "postfix check warnings:"; grep warning "$base/maillog" | sed 's/^/  /'
    fi
    timeout 60 postfix -c "$PF_CONF" start >/dev/null 2>&1 || { tail -n 20 "$base/maillog" >&2; die "postfix start failed"; }
    wait_port "$PROXY_PORT" 20 || die "Postfix is not listening on 127.0.0.1:$PROXY_PORT"
    wait_port "$CHAIN_PORT" 20 || die "Postfix is not listening on 127.0.0.1:$CHAIN_PORT"
}

# --- supportgate ----------------------------------------------------------------------------

SG_SKIP=""
SG_CONF=""
SG_MAX_CONN=$((IDLE_SESSIONS + 100 > 2000 ? IDLE_SESSIONS + 100 : 2000))

server_key() { # KEY FILE: the value of KEY in FILE's [server] section
    awk -F' *= *' -v key="$1" '/^\[/ { in_server = ($0 == "[server]") } in_server && $1 == key { print $2 }' "$2"
}

sg_prepare() { # sets SG_SKIP with the reason when supportgate cannot run
    local src=$SG_CONFIG dir=$WORK/supportgate
    if [ ! -x "$SUPPORTGATE_BIN" ]; then
        SG_SKIP="$SUPPORTGATE_BIN not found (build it: cargo build --release, or set SUPPORTGATE_BIN)"; return
    fi
    if ! timeout 10 "$SUPPORTGATE_BIN" serve --help >/dev/null 2>&1; then
        SG_SKIP="$SUPPORTGATE_BIN has no 'serve' subcommand yet"; return
    fi
    [ -f "$src" ] || { SG_SKIP="$src not found"; return; }
    mkdir -p "$dir/var"
    cat >"$dir/directory.toml" <<'EOF'
# bench directory: the smtp-source sender is the owner of account acme, so every bench message
# is "accepted" and forwarded to the queue target.
[[account]]
id = "acme"
name = "Acme SAS (bench)"
language = "en"

[[account.agent]]
name = "Bench Sender"
role = "owner"
emails = ["sender@acme.example"]
EOF
    # Overrides: SECTION.KEY <TAB> TOML value. Everything else is config/supportgate.toml as is;
    # smtp-source sends everything from one sender, which `mail-loop` (20 per 10 minutes) would
    # hold back: the bench lifts `[limits] sender_messages` (the decision is still made).
    # the [metrics] section is dropped (no listener). Paths are absolute.
    cat >"$dir/overrides.tsv" <<EOF
server.listen	["127.0.0.1:$SG_PORT"]
server.max_connections	$SG_MAX_CONN
server.max_connections_per_ip	$SG_MAX_CONN
directory.path	"$dir/directory.toml"
authentication.mode	"off"
queue.target	"smtp://127.0.0.1:$SINK_PORT"
replies.transport	"maildir:$dir/var/outbox"
replies.templates	"$REPO/config/templates"
quarantine.path	"$dir/var/quarantine"
spool.path	"$dir/var/spool"
reply_memory.path	"$dir/var/reply-memory"
sender_history.path	"$dir/var/sender-history.redb"
limits.sender_messages	100000000
EOF
    SG_CONF=$dir/supportgate.toml
    if ! awk -v ovfile="$dir/overrides.tsv" '
        BEGIN {
            while ((getline line < ovfile) > 0) { t = index(line, "\t"); ov[substr(line, 1, t - 1)] = substr(line, t + 1) }
            print "# generated by bench/relay.sh from config/supportgate.toml"
        }
        skipping_array { if ($0 ~ /\]/) skipping_array = 0; next }
        /^[ \t]*\[/ { sec = $0; gsub(/^[ \t]*\[+|\]+.*$/, "", sec); dropped = (sec == "metrics") }
        dropped { next }
        /^[A-Za-z0-9_"-]+[ \t]*=/ {
            key = $0; sub(/[ \t]*=.*/, "", key); full = sec "." key
            if (full in ov) {
                val = $0; sub(/^[^=]*=[ \t]*/, "", val)
                if (val ~ /^\[/ && val !~ /\]/) skipping_array = 1
                print key " = " ov[full]; done[full] = 1; next
            }
        }
        { print }
        END { bad = 0; for (k in ov) if (!(k in done)) { print "relay.sh: key " k " not found in config/supportgate.toml" > "/dev/stderr"; bad = 1 }; exit bad }
    ' "$src" >"$SG_CONF"; then
        SG_SKIP="could not generate the bench configuration from $src"; return
    fi
    if [ "$SG_SPOOL" = off ]; then
        sed -i 's/^\[spool\]$/[spool]\nenabled = false/' "$SG_CONF"
    fi
    if ! timeout 30 "$SUPPORTGATE_BIN" config check --config "$SG_CONF" >"$dir/config-check.out" 2>&1; then
        sed 's/^/  /' "$dir/config-check.out"
        SG_SKIP="'supportgate config check' rejects the generated $SG_CONF"; FAILED=1; return
    fi
    say "supportgate bench config: [server] max_connections $(server_key max_connections "$src") -> $SG_MAX_CONN, max_connections_per_ip $(server_key max_connections_per_ip "$src") -> $SG_MAX_CONN (all bench clients are 127.0.0.1); [metrics] removed; authentication off"
}

sg_start() { # LOGNAME [CONFIG]
    local log=$WORK/supportgate/$1.log conf=${2:-$SG_CONF} hard
    hard=$(ulimit -Hn)
    ( [ "$hard" = unlimited ] && ulimit -n 65536 || ulimit -n "$hard"
      exec env -u LISTEN_FDS -u LISTEN_PID -u LISTEN_FDNAMES -u NOTIFY_SOCKET \
          "$SUPPORTGATE_BIN" serve --config "$conf" ) >"$log" 2>&1 &
    SG_PID=$!
    if ! wait_port "$SG_PORT" 30 "$SG_PID"; then
        tail -n 20 "$log" | sed 's/^/  /'
        stop_pid "$SG_PID" 5; SG_PID=""
        return 1
    fi
}

sg_stop() { stop_pid "$SG_PID" 35; SG_PID=""; }

# --- header -----------------------------------------------------------------------------------

say "== supportgate relay bench ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
say "host: $(nproc) CPU, $(uname -sr), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
read -r LOAD1 LOAD5 _ </proc/loadavg
say "load average: $LOAD1 $LOAD5$(awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { if (l > n / 2) printf "  (busy machine: numbers will be noisy)" }')"
say "postfix: $(postconf -d mail_version 2>/dev/null | sed 's/.*= //') (smtp-source/smtp-sink from the same package)"
SG_VERSION="n/a"
[ -x "$SUPPORTGATE_BIN" ] && SG_VERSION="$(timeout 10 "$SUPPORTGATE_BIN" --version 2>/dev/null || echo '?') ($SUPPORTGATE_BIN)"
say "supportgate: $SG_VERSION, spool $SG_SPOOL"
say "work directory: $WORK"

start_sink
say "smtp-sink on 127.0.0.1:$SINK_PORT"

want_sg=0
case " $MODES " in *" supportgate "*) want_sg=1 ;; esac
if [ "$PHASE" != throughput ]; then want_sg=1; fi
if [ "$want_sg" = 1 ]; then
    sg_prepare
    if [ -n "$SG_SKIP" ]; then
        say "supportgate: SKIPPED — $SG_SKIP"
        MODES=$(echo "$MODES" | sed 's/\bsupportgate\b//g')
    fi
fi

# --- throughput -------------------------------------------------------------------------------

RESULTS=$WORK/results.tsv
: >"$RESULTS"

mode_port() {
    case $1 in
        direct) echo "$SINK_PORT" ;;
        postfix-proxy) echo "$PROXY_PORT" ;;
        postfix-chain) echo "$CHAIN_PORT" ;;
        supportgate) echo "$SG_PORT" ;;
    esac
}

run_source() { # MODE COUNT OUTFILE: smtp-source, bounded
    local -a opts=(-s "$SESSIONS" -m "$2" -l "$SIZE" -S "$SUBJECT" -M "$HELO" -f "$FROM" -t "$TO")
    [ "$REUSE" = 1 ] && opts+=(-d)
    # In the background and waited for, so that a signal to this script is handled at once
    # (bash defers traps while a foreground child runs); cleanup() stops it.
    timeout "$ROUND_TIMEOUT" smtp-source "${opts[@]}" "127.0.0.1:$(mode_port "$1")" >"$3" 2>&1 &
    CHILD_PID=$!
    local rc=0
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

wait_sink() { # TARGET SECONDS: until the sink count reaches TARGET; sets SINK_N to the count
    # (no command substitution: a signal must not wait for a subshell to finish)
    local target=$1 end
    end=$(($(date +%s) + $2))
    SINK_N=$(sink_count)
    while [ "$SINK_N" -lt "$target" ] && [ "$(date +%s)" -lt "$end" ]; do
        sleep 0.05
        SINK_N=$(sink_count)
    done
    return 0
}

run_round() { # ROUND MODE: acknowledged (smtp-source done) and end to end (sink has all)
    local r=$1 mode=$2 out=$WORK/source.$2.$1.out before t0 t1 t2 got rc=0 ack e2e status cpu0=0 cpu=""
    before=$(sink_count)
    [ "$mode" = supportgate ] && cpu0=$(cpu_ticks "$SG_PID")
    t0=$(now)
    run_source "$mode" "$MESSAGES" "$out" || rc=$?
    t1=$(now)
    SINK_N=$(sink_count)
    # Queueing modes (postfix-chain, supportgate's spool) may still deliver after smtp-source
    # is done: end to end is when the sink has every message.
    if [ "$rc" = 0 ]; then wait_sink $((before + MESSAGES)) "$ROUND_TIMEOUT"; fi
    t2=$(now)
    # supportgate's own CPU time per message (user + system, in and out): a figure that a busy
    # machine disturbs far less than the rates.
    [ "$mode" = supportgate ] && cpu=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$SG_PID")" -v hz="$(getconf CLK_TCK)" -v n="$MESSAGES" \
        'BEGIN { printf "  cpu %.0f us/msg", (b - a) / hz / n * 1e6 }')
    got=$((SINK_N - before))
    ack=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    e2e=$(awk -v a="$t0" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
    if [ "$rc" = 0 ] && [ "$got" -eq "$MESSAGES" ]; then
        status=OK
        printf '%s\t%s\t%s\t%s\n' "$mode" "$r" "$ack" "$e2e" >>"$RESULTS"
    else
        status="FAIL (smtp-source exit $rc, sink received $got of $MESSAGES: $(tail -n 1 "$out" | tr -d '\r'))"
        FAILED=1
    fi
    printf 'round %d  %-14s %6d msgs  ack %8.3f s %8.1f msg/s  end to end %8.3f s %8.1f msg/s  %s%s\n' "$r" "$mode" "$MESSAGES" \
        "$ack" "$(rate "$MESSAGES" "$ack")" "$e2e" "$(rate "$MESSAGES" "$e2e")" "$status" "$cpu"
}

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'; }

if [ "$PHASE" = all ] || [ "$PHASE" = throughput ]; then
    case " $MODES " in *" postfix-"*) start_postfix; say "postfix: private instance $PF_CONF (proxy 127.0.0.1:$PROXY_PORT, chain 127.0.0.1:$CHAIN_PORT -> reinjection 127.0.0.1:$REINJECT_PORT)" ;; esac
    case " $MODES " in *" supportgate "*)
        if sg_start throughput; then say "supportgate: serving on 127.0.0.1:$SG_PORT (pid $SG_PID), queue target smtp://127.0.0.1:$SINK_PORT"
        else say "supportgate: SKIPPED — 'serve' did not listen on 127.0.0.1:$SG_PORT within 30 s"; FAILED=1
             MODES=$(echo "$MODES" | sed 's/\bsupportgate\b//g'); fi ;;
    esac
    MODES=$(echo $MODES)
    [ -n "$MODES" ] || die "no mode left to run"
    say ""
    say "== throughput: $MESSAGES messages of $SIZE bytes over $SESSIONS parallel sessions, $([ "$REUSE" = 1 ] && echo "all messages of a session on one connection" || echo "one connection per message"), $ROUNDS interleaved rounds"
    say "   modes: $MODES (the order rotates each round; a sync before each timed run)"
    if [ "$WARMUP" -gt 0 ]; then
        for mode in $MODES; do
            before=$(sink_count)
            SINK_N=$before
            if ! run_source "$mode" "$WARMUP" "$WORK/warmup.$mode.out" \
                || ! wait_sink $((before + WARMUP)) 60 || [ $((SINK_N - before)) -ne "$WARMUP" ]; then
                say "warm-up $mode: FAIL ($(tail -n 1 "$WORK/warmup.$mode.out" | tr -d '\r'))"; FAILED=1
            fi
        done
        say "   (warm-up: $WARMUP untimed messages per mode)"
    fi
    # The order rotates from one round to the next, and each timed run starts after a `sync`:
    # no mode always runs after the same one, nor in the writeback that another left (Postfix's
    # queue files, created and deleted by the thousand, are journalled after its run).
    read -r -a MODE_LIST <<<"$MODES"
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((k = 0; k < ${#MODE_LIST[@]}; k++)); do
            sync
            run_round "$r" "${MODE_LIST[(k + r - 1) % ${#MODE_LIST[@]}]}"
        done
    done
    say ""
    python3 - "$RESULTS" "$MESSAGES" "$MODES" <<'EOF'
import statistics, sys
path, n, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
ack = {m: [] for m in modes}
e2e = {m: [] for m in modes}
for line in open(path):
    mode, _, a, e = line.split("\t")
    ack[mode].append(n / float(a))
    e2e[mode].append(n / float(e))
med = {m: statistics.median(v) for m, v in ack.items() if v}
med_e2e = {m: statistics.median(v) for m, v in e2e.items() if v}
print("== medians (msg/s, successful rounds only): acknowledged | end to end")
for m in modes:
    if m in med:
        print(f"   {m:<14} {med[m]:9.1f} | {med_e2e[m]:9.1f}   (ack {', '.join(f'{x:.0f}' for x in ack[m])}; e2e {', '.join(f'{x:.0f}' for x in e2e[m])})")
    else:
        print(f"   {m:<14}       n/a")
def ratio(a, b, goal, label, table, kind):
    if a in table and b in table:
        r = table[a] / table[b]
        print(f"   {kind} {a}/{b} = {r:.2f}   (goal >= {goal:g}: {'met' if r >= goal else 'NOT met'})  {label}")
    else:
        print(f"   {kind} {a}/{b} = n/a")
print("== ratios")
ratio("supportgate", "postfix-proxy", 2, "(before-queue proxy, not durable)", med, "ack")
ratio("supportgate", "direct", 0.5, "(share of the loopback limit)", med, "ack")
ratio("supportgate", "postfix-chain", 3, "(Postfix's own fsync'd queue)", med_e2e, "end to end")
if "postfix-proxy" in med and "direct" in med:
    print(f"   ack postfix-proxy/direct = {med['postfix-proxy'] / med['direct']:.2f}")
EOF
    postfix_stop
    if [ -n "$SG_PID" ]; then sg_stop; fi
fi

# --- backlog ----------------------------------------------------------------------------------

timed_source() { # COUNT OUTFILE: smtp-source into supportgate; sets SECS
    local t0 t1
    t0=$(now); run_source supportgate "$1" "$2" || { FAILED=1; say "smtp-source FAILED: $(tail -n 1 "$2" | tr -d '\r')"; }; t1=$(now)
    SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

if [ "$PHASE" = all ] || [ "$PHASE" = backlog ]; then
    say ""
    say "== backlog: upstream down, $BACKLOG messages spooled; ack rate with them waiting, idle CPU, then the upstream back"
    if [ -n "$SG_SKIP" ]; then
        say "supportgate: SKIPPED — $SG_SKIP"
    else
        BACKLOG_CONF=$WORK/supportgate/backlog.toml
        # retry_schedule 1h: the idle figure is not a round of retries (the upstream's return
        # is announced with `queue flush` below).
        sed -e "s#smtp://127.0.0.1:$SINK_PORT#smtp://127.0.0.1:$BACKLOG_PORT#" \
            -e 's/^retry_schedule = .*/retry_schedule = ["1h"]/' "$SG_CONF" >"$BACKLOG_CONF"
        rm -rf "$WORK/supportgate/var/spool"
        if ! sg_start backlog "$BACKLOG_CONF"; then
            say "supportgate: FAIL — 'serve' did not listen"; FAILED=1
        else
            say "fresh supportgate (pid $SG_PID), empty spool, queue target smtp://127.0.0.1:$BACKLOG_PORT (nothing listening)"
            timed_source "$MESSAGES" "$WORK/backlog.empty.out"; empty_secs=$SECS
            say "   ack, spool empty at start:  $MESSAGES msgs $empty_secs s  $(rate "$MESSAGES" "$empty_secs") msg/s"
            fill=$((BACKLOG > MESSAGES ? BACKLOG - MESSAGES : 0))
            timed_source "$fill" "$WORK/backlog.fill.out"
            say "   filling the backlog:        $fill msgs $SECS s  $(rate "$fill" "$SECS") msg/s"
            timed_source "$MESSAGES" "$WORK/backlog.full.out"; full_secs=$SECS
            total=$((MESSAGES + fill + MESSAGES))
            say "   ack, $((MESSAGES + fill)) waiting:      $MESSAGES msgs $full_secs s  $(rate "$MESSAGES" "$full_secs") msg/s  ($(awk -v a="$empty_secs" -v b="$full_secs" 'BEGIN { printf "%.2f", a / b }') of the empty-spool rate; goal >= 0.90)"
            sleep 2
            c0=$(cpu_ticks "$SG_PID"); sleep "$IDLE_CPU_SECS"; c1=$(cpu_ticks "$SG_PID")
            say "   idle with $total waiting:  $(awk -v t=$((c1 - c0)) -v h="$(getconf CLK_TCK)" -v s="$IDLE_CPU_SECS" 'BEGIN { printf "%.2f s of CPU in %d s", t / h, s }')"
            smtp-sink -u nobody -c -m 1024 "127.0.0.1:$BACKLOG_PORT" 1024 >"$WORK/backlog-sink.out" 2>"$WORK/backlog-sink.err" &
            BACKLOG_SINK_PID=$!
            wait_port "$BACKLOG_PORT" 10 "$BACKLOG_SINK_PID" || die "backlog smtp-sink did not start"
            # The upstream is back: `queue flush` (SIGUSR1), as an operator would, instead of
            # waiting for the next retry (an hour away here).
            t0=$(now); kill -USR1 "$SG_PID"
            end=$(($(date +%s) + ROUND_TIMEOUT)); got=0
            while [ "$got" -lt "$total" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; got=$(sink_count "$WORK/backlog-sink.out"); done
            t1=$(now)
            drain_secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
            if [ "$got" -ge "$total" ]; then
                say "   drain, upstream back:       $total msgs $drain_secs s  $(rate "$total" "$drain_secs") msg/s"
            else
                say "   drain: FAIL — the sink has $got of $total after $drain_secs s"; FAILED=1
            fi
            sg_stop
            stop_pid "$BACKLOG_SINK_PID" 5; BACKLOG_SINK_PID=""
        fi
    fi
fi

# --- idle sessions ----------------------------------------------------------------------------

if [ "$PHASE" = all ] || [ "$PHASE" = idle ]; then

    say ""
    say "== idle sessions: $IDLE_SESSIONS SMTP sessions held open (EHLO, then nothing) for ${IDLE_HOLD}s"
    if [ -n "$SG_SKIP" ]; then
        say "supportgate: SKIPPED — $SG_SKIP"
    elif ! sg_start idle; then
        say "supportgate: FAIL — 'serve' did not listen on 127.0.0.1:$SG_PORT within 30 s"; FAILED=1
    else
        say "fresh supportgate process (pid $SG_PID), max_connections = max_connections_per_ip = $SG_MAX_CONN"
        hard=$(ulimit -Hn); [ "$hard" = unlimited ] && hard=65536
        ( ulimit -n "$hard"; exec timeout $((IDLE_HOLD + 300)) python3 "$HERE/idle_sessions.py" \
                --host 127.0.0.1 --port "$SG_PORT" --pid "$SG_PID" --sessions "$IDLE_SESSIONS" \
                --hold "$IDLE_HOLD" --max-rss-mib "$IDLE_MAX_RSS_MIB" ) &
        CHILD_PID=$!
        wait "$CHILD_PID" || FAILED=1
        CHILD_PID=""
        sg_stop
    fi
fi

say ""
if [ "$FAILED" = 0 ]; then say "relay.sh: done"; else say "relay.sh: done, with failures (see above)"; fi
exit "$FAILED"
