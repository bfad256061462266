#!/usr/bin/env bash
# scripts/install-test-deps.sh — install what the tests and benchmarks need besides Rust: Postfix
# (smtp-source, smtp-sink, the Postfix baseline and integration tests), swaks, python3,
# systemd-analyze and systemd-socket-activate (systemd: the unit check and the socket-activation
# test), dnsmasq (dnsmasq-base: the loopback DNS of the authentication tests) and swaks's TLS
# modules (Net::SSLeay, IO::Socket::SSL: `swaks --tls` in tests/ops_tls_reload.rs; only
# recommended by the swaks package, so --no-install-recommends leaves them out), PostgreSQL
# (postgresql: tests/postgres_support runs private clusters), and chromium with chromium-driver
# (the console's browser test, tests/console_browser.rs, over WebDriver), and GNU time
# (/usr/bin/time -v: the peak RSS in bench/directory_postgres.sh);
# non-interactively and idempotently, on Debian. Run as root.
#
# The package is installed with "No configuration": no /etc/postfix/main.cf is written and the
# system instance is not configured to listen on port 25. If a system Postfix is running
# anyway, it is stopped (bench/relay.sh runs its own private instances on loopback ports).
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "install-test-deps.sh: run as root" >&2; exit 1; }
export PATH=$PATH:/usr/sbin:/sbin

# command:package, for every command the tests run.
needed=(postfix:postfix smtp-source:postfix smtp-sink:postfix swaks:swaks python3:python3
        systemd-analyze:systemd systemd-socket-activate:systemd dnsmasq:dnsmasq-base
        chromium:chromium chromedriver:chromium-driver /usr/bin/time:time)
missing=()
for cmd in "${needed[@]}"; do
    command -v "${cmd%%:*}" >/dev/null 2>&1 || missing+=("${cmd#*:}")
done
# PostgreSQL (tests/postgres_support: a private cluster per test run, initdb + pg_ctl from
# /usr/lib/postgresql/*/bin, not on PATH). The package's own cluster is stopped below.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# Perl modules (not commands): module=package.
for module in Net::SSLeay=libnet-ssleay-perl IO::Socket::SSL=libio-socket-ssl-perl; do
    perl -M"${module%%=*}" -e 1 >/dev/null 2>&1 || missing+=("${module#*=}")
done
checked="$(printf '%s\n' "${needed[@]%%:*}" | paste -sd ' ') Net::SSLeay IO::Socket::SSL"

if [ ${#missing[@]} -gt 0 ]; then
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | sort -u)
    echo "install-test-deps.sh: installing ${pkgs[*]}"
    echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    timeout 900 apt-get install -y -q --no-install-recommends "${pkgs[@]}"
else
    echo "install-test-deps.sh: already installed: $checked"
fi

# Never leave the system instance running (it would listen on port 25).
if postfix status >/dev/null 2>&1; then
    echo "install-test-deps.sh: stopping the system Postfix instance"
    postfix stop || true
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now postfix.service >/dev/null 2>&1 || true
fi

# Nor the packaged PostgreSQL cluster (the tests run their own on free loopback ports).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now postgresql.service >/dev/null 2>&1 || true
elif command -v pg_ctlcluster >/dev/null 2>&1; then
    for cluster in /etc/postgresql/*/*; do
        [ -d "$cluster" ] || continue
        pg_ctlcluster "$(basename "$(dirname "$cluster")")" "$(basename "$cluster")" stop >/dev/null 2>&1 || true
    done
fi

echo "install-test-deps.sh: $(postconf -d mail_version 2>/dev/null)"
