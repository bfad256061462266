#!/usr/bin/env python3
"""Hold N idle SMTP sessions open against a server and report the server's memory.

Each session connects, reads the greeting, sends EHLO, reads the (multi-line) reply and then
stays silent. With all sessions open, the server's VmRSS and VmHWM are read from
/proc/PID/status (PID given with --pid), then every session is checked to still be open (the
server may have closed it or sent 421) and all are closed with QUIT.

    bench/idle_sessions.py --port 2525 --pid 1234 [--sessions 1000] [--hold 5] [--max-rss-mib 64]

Exit status: 0 if every session was established and held and VmRSS <= --max-rss-mib (when given),
1 otherwise, 2 on bad usage.
"""

import argparse
import resource
import select
import socket
import sys
import time


def read_status(pid):
    """VmRSS and VmHWM of PID in KiB, from /proc/PID/status."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def read_reply(sock, deadline):
    """One SMTP reply (possibly multi-line); returns (code, text)."""
    buf = b""
    while True:
        lines = buf.split(b"\r\n")
        # A complete reply ends with a line "DDD text" (space, not hyphen, after the code).
        for line in lines[:-1]:
            if len(line) >= 3 and (len(line) == 3 or line[3:4] == b" "):
                return int(line[:3]), buf.decode("utf-8", "replace")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no complete reply")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed by server after {buf!r}")
        buf += chunk


def mib(kib):
    return kib / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, help="server process whose memory is reported")
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=5.0, help="seconds to hold the sessions before measuring")
    ap.add_argument("--ehlo", default="idle.bench.example")
    ap.add_argument("--timeout", type=float, default=10.0, help="per connection setup, seconds")
    ap.add_argument("--deadline", type=float, default=180.0, help="for opening all sessions, seconds")
    ap.add_argument("--max-rss-mib", type=float, help="fail if VmRSS exceeds this with all sessions open")
    args = ap.parse_args()
    if args.sessions < 1:
        ap.error("--sessions must be >= 1")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.sessions + 64
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        if new < want:
            print(f"idle_sessions: file descriptor limit {new} < {want}; raise `ulimit -n`", file=sys.stderr)
            return 2

    before = read_status(args.pid) if args.pid else None
    socks, failures = [], []
    start = time.monotonic()
    overall = start + args.deadline
    for i in range(args.sessions):
        if time.monotonic() > overall:
            failures.append(f"deadline of {args.deadline:g}s reached after {i} sessions")
            break
        s = None
        try:
            deadline = min(time.monotonic() + args.timeout, overall)
            s = socket.create_connection((args.host, args.port), timeout=args.timeout)
            code, text = read_reply(s, deadline)
            if code != 220:
                raise ConnectionError(f"greeting {text.strip()!r}")
            s.sendall(f"EHLO {args.ehlo}\r\n".encode())
            code, text = read_reply(s, deadline)
            if code != 250:
                raise ConnectionError(f"EHLO reply {text.strip()!r}")
            socks.append(s)
        except (OSError, TimeoutError, ConnectionError) as e:
            failures.append(f"session {i + 1}: {e}")
            if s is not None:
                s.close()
    opened = time.monotonic() - start
    print(f"opened {len(socks)}/{args.sessions} sessions in {opened:.2f}s")

    time.sleep(args.hold)

    during = read_status(args.pid) if args.pid else None

    # Still open? A readable socket here means the server spoke (421) or closed it.
    dropped = 0
    for i in range(0, len(socks), 500):
        batch = socks[i:i + 500]
        readable, _, _ = select.select(batch, [], [], 0)
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            dropped += 1
            if len(failures) < 20:
                failures.append(f"session dropped while idle: {data[:80]!r}")
    held = len(socks) - dropped
    print(f"held {held}/{args.sessions} sessions idle for {args.hold:g}s")

    for s in socks:
        try:
            s.setblocking(False)
            s.send(b"QUIT\r\n")
        except OSError:
            pass
        s.close()

    ok = held == args.sessions and not failures
    for f in failures[:20]:
        print(f"  {f}")
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more")

    if args.pid:
        rss0, hwm0 = before
        rss, hwm = during
        print(f"server pid {args.pid}: before VmRSS {mib(rss0):.1f} MiB; "
              f"with {held} idle sessions VmRSS {mib(rss):.1f} MiB, VmHWM {mib(hwm):.1f} MiB; "
              f"{(rss - rss0) / max(held, 1):.1f} KiB per session")
        if args.max_rss_mib is not None:
            verdict = "PASS" if mib(rss) <= args.max_rss_mib else "FAIL"
            print(f"goal VmRSS <= {args.max_rss_mib:g} MiB with {args.sessions} idle sessions: {verdict}")
            ok = ok and verdict == "PASS"
    print("idle sessions:", "OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
