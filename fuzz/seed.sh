#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ (git-ignored) with the seeds: the hand-written ones under
# fuzz/seeds/, the repository's samples and configuration, and the shared mail-parser corpus.
# Idempotent; run it before the first `cargo +nightly fuzz run`.
#
#   fuzz/seed.sh [SHARED_CORPUS]     (default: /work/shared/corpus)
set -euo pipefail
cd "$(dirname "$0")"
root=..
shared=${1:-/work/shared/corpus}

for target in data_reader smtp_session message_decision config_parser directory_parser milter_codec spool_record; do
    mkdir -p "corpus/$target"
done

# Hand-written SMTP dialogues and DATA payloads (every fake end-of-data variant).
cp seeds/data_reader/* corpus/data_reader/
cp seeds/smtp_session/* corpus/smtp_session/
cp seeds/milter_codec/* corpus/milter_codec/

# Parsers: the configuration files and the directories, as plain text.
for f in "$root"/config/*.toml "$root"/samples/*.toml; do
    cp "$f" "corpus/config_parser/$(basename "$f")"
    cp "$f" "corpus/directory_parser/$(basename "$f")"
done

# Messages: samples and the shared corpus. message_decision takes a control byte first (bits:
# authentication source, envelope sender, recipients); each message goes in with two of them.
# The same messages, CRLF'd and dot-stuffed, become DATA payloads and whole SMTP dialogues.
emls=("$root"/samples/*.eml)
if [ -d "$shared" ]; then
    mapfile -t -O "${#emls[@]}" emls < <(find "$shared" -name '*.eml' | sort)
else
    echo "seed.sh: no shared corpus at $shared, using samples/ only" >&2
fi
python3 - "${emls[@]}" <<'PY'
import hashlib, sys

def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

def stuffed(data):
    lines = crlf(data).split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)

for path in sys.argv[1:]:
    data = open(path, "rb").read()
    name = hashlib.sha1(path.encode()).hexdigest()[:12]
    for control in (0x0C, 0x3D):
        open(f"corpus/message_decision/{name}-{control:02x}", "wb").write(bytes([control]) + data)
    payload = stuffed(data) + b".\r\nQUIT\r\n"
    open(f"corpus/data_reader/{name}", "wb").write(bytes([3, 0x33]) + payload)
    dialogue = (b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
                b"RCPT TO:<support+acme@vendor.example>\r\nDATA\r\n") + payload
    open(f"corpus/smtp_session/{name}", "wb").write(bytes([0]) + dialogue)
PY

for target in corpus/*; do
    echo "$target: $(find "$target" -type f | wc -l) files"
done
