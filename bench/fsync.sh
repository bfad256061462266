#!/usr/bin/env bash
# bench/fsync.sh — what one fdatasync costs for the spool's write pattern: appending a batch to
# the end of a growing file (what the spool did before its zeros ahead; the reference), against
# writing the batch over zeros the file already has (what the running server's segment does
# now: src/store/spool/segment.rs, ZERO_AHEAD). Both in one run, alternated, on the filesystem
# of DIR. See bench/README.md.
#
#   bench/fsync.sh [DIR]      (default: a temporary directory under /var/tmp)
#
# Environment: BATCHES [3000] batches per pass, BATCH [11538] bytes per batch (one 10 KiB bench
# message with its record), PASSES [3] alternated passes per pattern.
set -euo pipefail

DIR=${1:-}
BATCHES=${BATCHES:-3000}
BATCH=${BATCH:-11538}
PASSES=${PASSES:-3}
for v in BATCHES BATCH PASSES; do
    [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || { echo "fsync.sh: $v must be a positive number, got '${!v}'" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "fsync.sh: python3 not found" >&2; exit 1; }
if [ -z "$DIR" ]; then
    DIR=$(mktemp -d /var/tmp/supportgate-fsync.XXXXXX)
    trap 'rm -rf "$DIR"' EXIT
fi
[ -d "$DIR" ] || { echo "fsync.sh: $DIR is not a directory" >&2; exit 2; }

echo "== fdatasync per batch ($(date -u +%Y-%m-%dT%H:%M:%SZ)), $BATCHES batches of $BATCH bytes, $PASSES passes"
echo "filesystem: $(df -T "$DIR" | awk 'NR == 2 { print $2 " on " $1 }'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$DIR" "$BATCHES" "$BATCH" "$PASSES" <<'EOF'
import os, statistics, sys, time

directory, batches, batch, passes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
record = b"x" * batch
ticks = os.sysconf("SC_CLK_TCK")

def busy_ticks():
    # Every CPU of the machine, busy (not idle, not waiting for IO): the filesystem's journal
    # thread and the block layer's work count too, not only this process.
    with open("/proc/stat") as stat:
        fields = list(map(int, stat.readline().split()[1:]))
    return sum(fields) - fields[3] - fields[4]

def run(pattern):
    path = os.path.join(directory, "segment.bin")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if pattern == "over zeros":
            os.write(fd, b"\0" * (batches * batch))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        started, cpu, machine = time.perf_counter(), os.times(), busy_ticks()
        for _ in range(batches):
            os.write(fd, record)
            os.fdatasync(fd)
        wall = (time.perf_counter() - started) / batches * 1e6
        after = os.times()
        process = ((after.user - cpu.user) + (after.system - cpu.system)) / batches * 1e6
        busy = (busy_ticks() - machine) / ticks / batches * 1e6
        return wall, process, busy
    finally:
        os.close(fd)
        os.unlink(path)

results = {"at the end (reference)": [], "over zeros": []}
for n in range(passes):
    for pattern in results:
        wall, process, busy = run("over zeros" if pattern == "over zeros" else "append")
        results[pattern].append((wall, process, busy))
        print(f"pass {n + 1}  {pattern:24s} {wall:7.1f} us wall  {process:6.1f} us CPU (this process)  {busy:6.1f} us CPU (machine)")
print("== medians per batch: wall | process CPU | machine CPU")
medians = {}
for pattern, rows in results.items():
    medians[pattern] = [statistics.median(column) for column in zip(*rows)]
    wall, process, busy = medians[pattern]
    print(f"   {pattern:24s} {wall:7.1f} us | {process:6.1f} us | {busy:6.1f} us")
reference, zeros = medians["at the end (reference)"], medians["over zeros"]
print(f"== over zeros / at the end: wall {zeros[0] / reference[0]:.2f}, process CPU {zeros[1] / reference[1]:.2f}, machine CPU {zeros[2] / reference[2]:.2f}")
EOF
