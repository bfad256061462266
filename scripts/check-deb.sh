#!/usr/bin/env bash
# scripts/check-deb.sh — build the Debian package with `cargo deb` ([package.metadata.deb] in
# Cargo.toml) and check what is in it: the binary, the systemd units, the configuration,
# directory and every reply template under /etc/supportgate/ (as conf-files), the docs, the
# manual page supportgate(8) and the bash and zsh completions. Then
# unpack it and run the packaged binary on the packaged configuration (`config check`).
#
#   scripts/check-deb.sh             build (release) and check
#   INSTALL=1 scripts/check-deb.sh   also dpkg -i it, check the installed files (and
#                                    `systemctl cat` when systemd runs), then purge it again
#
# `--strip`: the release profile keeps line tables for the benchmarks; the package does not.
# Needs cargo-deb (`cargo install cargo-deb`) and dpkg-deb. .ci/run calls it only when
# cargo-deb is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'check-deb: %s\n' "$*"; }
fail() { printf 'check-deb: FAIL: %s\n' "$*" >&2; exit 1; }

command -v cargo-deb >/dev/null 2>&1 || fail "cargo-deb is not installed (cargo install cargo-deb)"
command -v dpkg-deb >/dev/null 2>&1 || fail "dpkg-deb is not installed"

WORK=$(mktemp -d /tmp/supportgate-deb.XXXXXX)
INSTALLED=""
cleanup() {
    if [ -n "$INSTALLED" ]; then dpkg --purge supportgate >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The manual page and the completions come from the release binary's own clap definitions
# (`supportgate generate`, hidden); [package.metadata.deb] assets takes them from target/assets/.
say "cargo build --release, then supportgate generate into target/assets/"
cargo build --release >"$WORK/release.log" 2>&1 || { tail -n 30 "$WORK/release.log" >&2; fail "cargo build --release failed"; }
BIN="${CARGO_TARGET_DIR:-target}/release/supportgate"
rm -rf target/assets
"$BIN" generate man target/assets >/dev/null
gzip -9n target/assets/supportgate.8
"$BIN" generate completions bash target/assets >/dev/null
"$BIN" generate completions zsh target/assets >/dev/null

say "cargo deb $(cargo deb --version 2>/dev/null | awk '{print $2}')"
cargo deb --strip >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; fail "cargo deb failed"; }
DEB=$(tail -n 1 "$WORK/build.log")
[ -f "$DEB" ] || fail "cargo deb did not print the package path (last line: $DEB)"
say "built $DEB"

dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's#^\./#/#' >"$WORK/contents"
dpkg-deb -f "$DEB" Package Version Architecture Depends Section | sed 's/^/  /'

missing=0
expect() { # PATH [PATH...]: each must be in the package
    for path in "$@"; do
        if grep -qxF "$path" "$WORK/contents"; then
            say "ok   $path"
        else
            say "MISSING $path"; missing=1
        fi
    done
}
expect_one_of() { # PATH [PATH...]: at least one must be in the package
    for path in "$@"; do
        if grep -qxF "$path" "$WORK/contents"; then say "ok   $path"; return; fi
    done
    say "MISSING one of $*"; missing=1
}

expect /usr/bin/supportgate
for unit in supportgate.service supportgate.socket; do
    expect_one_of "/usr/lib/systemd/system/$unit" "/lib/systemd/system/$unit"
done
expect /etc/supportgate/supportgate.toml /etc/supportgate/directory.toml
for template in config/templates/*/*.txt; do
    expect "/etc/supportgate/${template#config/}"
done
expect /usr/share/doc/supportgate/README.md /usr/share/doc/supportgate/postfix.md
expect /usr/share/man/man8/supportgate.8.gz \
       /usr/share/bash-completion/completions/supportgate \
       /usr/share/zsh/vendor-completions/_supportgate

dpkg-deb --ctrl-tarfile "$DEB" | tar -x -C "$WORK" ./conffiles 2>/dev/null || true
for conf in /etc/supportgate/supportgate.toml /etc/supportgate/directory.toml \
            /etc/supportgate/templates/en/not-registered.txt; do
    if grep -qxF "$conf" "$WORK/conffiles" 2>/dev/null; then say "ok   conffile $conf"
    else say "NOT A CONFFILE $conf"; missing=1; fi
done
[ "$missing" = 0 ] || fail "the package lacks files (dpkg-deb -c $DEB)"

# The packaged binary accepts the packaged configuration, directory and templates.
dpkg-deb -x "$DEB" "$WORK/root"
"$WORK/root/usr/bin/supportgate" --version
# The packaged manual page names every command.
man_text=$(zcat "$WORK/root/usr/share/man/man8/supportgate.8.gz")
for command in serve check "config check" "directory lint" "directory reload" "quarantine list" "queue list"; do
    grep -qF ".SS \"supportgate ${command}\"" <<<"$man_text" || fail "supportgate(8) lacks '$command'"
done
say "ok   supportgate(8) names every command"
# The packaged configuration names absolute /etc/supportgate and /var/lib/supportgate paths and
# port 25: point them at the unpacked tree, a state folder of ours and free high ports for this
# check (the installed check below uses them as they are).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SMTP_PORT=$(free_port); METRICS_PORT=$(free_port)
mkdir -p "$WORK/state"
sed -e "s#/etc/supportgate#$WORK/root/etc/supportgate#g" -e "s#/var/lib/supportgate#$WORK/state#g" \
    -e "s#0.0.0.0:25\"#0.0.0.0:$SMTP_PORT\"#" -e "s#\[::\]:25\"#[::]:$SMTP_PORT\"#" \
    -e "s#127.0.0.1:9325#127.0.0.1:$METRICS_PORT#" \
    "$WORK/root/etc/supportgate/supportgate.toml" > "$WORK/root/etc/supportgate/unpacked-check.toml"
grep -q "0.0.0.0:$SMTP_PORT" "$WORK/root/etc/supportgate/unpacked-check.toml" \
    || fail "the packaged configuration no longer listens on 0.0.0.0:25 (update this check)"
"$WORK/root/usr/bin/supportgate" config check --config "$WORK/root/etc/supportgate/unpacked-check.toml" \
    || fail "supportgate config check rejects the packaged /etc/supportgate/supportgate.toml"

# The packaged binary serves the packaged configuration, dual-stack (0.0.0.0 and [::] on one
# port), answers a greeting on each family, and stops cleanly on SIGTERM.
"$WORK/root/usr/bin/supportgate" serve --config "$WORK/root/etc/supportgate/unpacked-check.toml" \
    >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
greets() { # HOST: the 220 greeting within 5 s
    timeout 5 bash -c "exec 3<>/dev/tcp/$1/$SMTP_PORT; head -c 3 <&3; printf 'QUIT\r\n' >&3" 2>/dev/null | grep -q 220
}
for _ in $(seq 1 100); do greets 127.0.0.1 && break; kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
if ! greets 127.0.0.1; then
    kill "$SERVE_PID" 2>/dev/null; cat "$WORK/serve.log" >&2
    fail "the packaged binary does not serve the packaged configuration on 0.0.0.0:$SMTP_PORT"
fi
say "ok   serve on 0.0.0.0:$SMTP_PORT answers over IPv4"
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
    greets ::1 || { kill "$SERVE_PID"; cat "$WORK/serve.log" >&2; fail "no greeting on [::1]:$SMTP_PORT"; }
    say "ok   serve on [::]:$SMTP_PORT answers over IPv6"
else
    say "note: no IPv6 loopback here; [::]:$SMTP_PORT was bound but not tried"
fi
kill -TERM "$SERVE_PID"
status=0; wait "$SERVE_PID" || status=$?
[ "$status" = 0 ] || { cat "$WORK/serve.log" >&2; fail "serve exited $status on SIGTERM"; }
say "ok   serve stopped cleanly on SIGTERM"

if [ "${INSTALL:-0}" = 1 ]; then
    [ "$(id -u)" = 0 ] || fail "INSTALL=1 needs root"
    dpkg-query -W supportgate >/dev/null 2>&1 && fail "supportgate is already installed; not touching it"
    dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i failed"; }
    INSTALLED=1
    say "installed: $(dpkg-query -W -f '${Package} ${Version} ${Status}' supportgate)"
    for f in /usr/bin/supportgate /etc/supportgate/supportgate.toml /etc/supportgate/directory.toml; do
        [ -e "$f" ] || fail "$f missing after dpkg -i"
    done
    supportgate config check --config /etc/supportgate/supportgate.toml
    if [ -d /run/systemd/system ]; then
        systemctl cat supportgate.service supportgate.socket
    else
        say "systemd is not running here: units checked on disk only"
        ls -l /usr/lib/systemd/system/supportgate.* 2>/dev/null || ls -l /lib/systemd/system/supportgate.*
    fi
    dpkg --purge supportgate >/dev/null
    INSTALLED=""
    [ ! -e /usr/bin/supportgate ] && [ ! -e /etc/supportgate/supportgate.toml ] \
        || fail "files left after dpkg --purge"
    say "purged"
fi

say "done: $DEB"
