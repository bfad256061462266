#!/bin/sh
# The PostgreSQL scale bench of issue 15 (SPEC §12), on a private cluster (initdb + pg_ctl in a
# temporary folder, loopback only, fsync off; as `nobody` when run as root, like the tests):
#
#   directory   1,000,000 agents COPY'd in, the full load timed with its peak RSS, the latency
#               from UPDATE to "in force" (p50/p99 over UPDATES updates), decisions/s in 3 quiet
#               rounds alternating with 3 rounds under 100 updates/s, the latency of updates during
#               a full resynchronisation (examples/directory_postgres_scale.rs)
#   state       the per-message cost of [state] backend = "postgres": one sender-history record
#               and one reply claim, each one round trip (cargo bench --bench decide, filtered)
#
# Usage: bench/directory_postgres.sh [directory|state|all]   (default: all)
# Environment: ACCOUNTS (100000), AGENTS (10), UPDATES (1000), SECONDS (10), KEEP=1 to keep the
# folder. Needs Debian's postgresql (scripts/install-test-deps.sh) and /usr/bin/time.
set -eu
MODE=${1:-all}
ACCOUNTS=${ACCOUNTS:-100000}
AGENTS=${AGENTS:-10}
UPDATES=${UPDATES:-1000}
SECONDS_EACH=${SECONDS:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$BIN/initdb" ] || { echo "PostgreSQL is not installed: scripts/install-test-deps.sh" >&2; exit 2; }
WORK=$(mktemp -d /tmp/supportgate-pgbench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_server() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown nobody "$WORK"
stop() {
    as_server "$BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true
    [ "${KEEP:-0}" = 1 ] && echo "kept: $WORK" || rm -rf "$WORK"
}
trap stop EXIT
as_server "$BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
as_server "$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$WORK -c fsync=off -c shared_buffers=256MB" \
    start >/dev/null
URL="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
"$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres \
    -f "$ROOT/sql/directory.sql"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $($BIN/postgres --version)"

if [ "$MODE" = directory ] || [ "$MODE" = all ]; then
    (cd "$ROOT" && cargo build --release --example directory_postgres_scale -q)
    SCALE="$TARGET/release/examples/directory_postgres_scale"
    "$SCALE" generate "$URL" "$ACCOUNTS" "$AGENTS"
    /usr/bin/time -v "$SCALE" load "$URL" 2>"$WORK/time.txt"
    grep -E "Maximum resident set size|Elapsed \(wall clock\)" "$WORK/time.txt"
    "$SCALE" live "$URL" "$UPDATES" "$SECONDS_EACH"
fi
if [ "$MODE" = state ] || [ "$MODE" = all ]; then
    (cd "$ROOT" && BENCH_STATE_URL="$URL" cargo bench --bench decide -- postgres)
fi
