#!/usr/bin/env bash
# What one hostile file can still cost (BENCHMARKS.md "What one hostile file can cost"): the
# release binary with the shipped defaults (max_file_bytes 32 MiB, max_applications 10,000,
# settle 500 ms, mail to files), a fresh data folder per case. For each case a hostile file is
# dropped into partner EVIL's inbox and, at once, an ordinary filing into partner GOOD's; the
# script prints how long each ack and each mail took, the daemon's peak RSS, how much the data
# folder grew, the sizes of the hostile file's ack and mail, and how long SIGTERM took.
#
#   scripts/hostile-costs.sh [path/to/aim]      (default target/release/aim)
#   AIM_CASES="errors200k sparse16g" AIM_WAIT_S=60 scripts/hostile-costs.sh OLD/aim   (a subset,
#   giving up on any one wait after 60 s: "timeout")
set -euo pipefail
cd "$(dirname "$0")/.."
aim=$(realpath "${1:-target/release/aim}")
work=$(mktemp -d "${TMPDIR:-/tmp}/aim-hostile.XXXXXX")
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
sample=$(realpath ../shared/samples/ACMEBRK/valid-single.xml)

now_ms() { date +%s%3N; }
wait_file() { # path timeout_s -> prints ms since $t0
    local end
    end=$(($(now_ms) + $2 * 1000))
    while [ ! -e "$1" ]; do
        [ "$(now_ms)" -lt "$end" ] || { echo "timeout"; return; }
        sleep 0.01
    done
    echo $(($(now_ms) - t0))
}
mail_of() { grep -l -- "$1" "$2"/mail/*.eml 2>/dev/null | head -n1; }
wait_mail() { # text data timeout_s -> prints ms since $t0
    local end
    end=$(($(now_ms) + $3 * 1000))
    while [ -z "$(mail_of "$1" "$2")" ]; do
        [ "$(now_ms)" -lt "$end" ] || { echo "timeout"; return; }
        sleep 0.05
    done
    echo $(($(now_ms) - t0))
}

make_case() { # name file
    case "$1" in
    errors200k)
        python3 - "$sample" "$2" <<'EOF'
import sys
t = open(sys.argv[1]).read().replace("<SenderId>ACMEBRK<", "<SenderId>EVIL<")
t = t.replace("    <EntryType>", "<X/>" * 200_000 + "    <EntryType>", 1)
open(sys.argv[2], "w").write(t)
EOF
        ;;
    errors32m)
        # As many errors as 32 MiB hold: 10,000 applications of 480 unknown elements each.
        python3 - "$sample" "$2" <<'EOF'
import sys
t = open(sys.argv[1]).read().replace("<SenderId>ACMEBRK<", "<SenderId>EVIL<")
a = t.index("  <Application "); b = t.index("</Application>\n") + len("</Application>\n")
app = t[a:b].replace("    <EntryType>", "<X/>" * 480 + "    <EntryType>", 1)
apps = "".join(app.replace('id="A1"', f'id="A{n}"', 1) for n in range(10_000))
open(sys.argv[2], "w").write(t[:a] + apps + t[b:])
EOF
        ;;
    sparse16g) truncate -s 16G "$2" ;;
    esac
}

# Times in ms from the moment both files were dropped; data_MB: disk blocks the data folder
# gained (the archived input included); peak_MiB: the daemon's VmHWM.
printf '%-11s %9s %8s %9s %9s %9s %9s %10s %10s %9s\n' case input_MB ack_ms good_ms mail_ms good_mail peak_MiB data_MB ack_KB sigterm_ms
limit=${AIM_WAIT_S:-600}
for c in ${AIM_CASES:-errors200k errors32m sparse16g growing}; do
    d="$work/$c"
    mkdir -p "$d"
    cat >"$d/aim.toml" <<EOF
inbox = "$d/inbox"
outbox = "$d/outbox"
data = "$d/var"
[[partner]]
id = "EVIL"
name = "Hostile"
emails = ["evil@example.com"]
[[partner]]
id = "GOOD"
name = "Good"
emails = ["good@example.com"]
EOF
    "$aim" gen --sender GOOD --count 1 --out "$d/good" --seed 7 2>/dev/null
    good=$(ls "$d/good")
    (cd "$d" && exec "$aim" daemon --config "$d/aim.toml") 2>"$d/daemon.log" &
    pid=$!
    until grep -q "intake started" "$d/daemon.log" 2>/dev/null; do sleep 0.05; done
    data0=$(du -s --block-size=1 "$d/var" | cut -f1)
    mkdir -p "$d/stage"
    [ "$c" = growing ] || make_case "$c" "$d/stage/$c.xml"
    t0=$(now_ms)
    if [ "$c" = growing ]; then
        # Grows by 1 GiB (sparse) every 20 ms for 10 s through a second handle.
        python3 - "$d/inbox/EVIL/$c.xml" <<'EOF' &
import os, sys, time
p = sys.argv[1]
a = open(p, "wb"); b = open(p, "r+b"); n = 1 << 30; b.truncate(n); a.close()
end = time.time() + 10
while time.time() < end:
    n += 1 << 30; b.truncate(n); time.sleep(0.02)
EOF
        grower=$!
        size=0
    else
        size=$(stat -c %s "$d/stage/$c.xml")
        mv "$d/stage/$c.xml" "$d/inbox/EVIL/$c.xml"
    fi
    cp "$d/good/$good" "$d/inbox/GOOD/.$good.tmp" && mv "$d/inbox/GOOD/.$good.tmp" "$d/inbox/GOOD/$good"
    ack_ms=$(wait_file "$d/outbox/EVIL/$c.ack.xml" "$limit")
    good_ms=$(wait_file "$d/outbox/GOOD/${good%.xml}.ack.xml" "$limit")
    mail_ms=$(wait_mail "$c.xml" "$d/var" "$limit")
    good_mail=$(wait_mail "${good}" "$d/var" "$limit")
    peak=$(awk '/VmHWM/ {printf "%d", $2/1024}' "/proc/$pid/status")
    data1=$(du -s --block-size=1 "$d/var" | cut -f1)
    ackkb=$(( $(stat -c %s "$d/outbox/EVIL/$c.ack.xml" 2>/dev/null || echo 0) / 1024 ))
    t0=$(now_ms)
    kill -TERM "$pid"
    wait "$pid" || true
    term=$(($(now_ms) - t0))
    [ -n "${grower:-}" ] && { wait "$grower" || true; grower=""; }
    printf '%-11s %9s %8s %9s %9s %9s %9s %10s %10s %9s\n' "$c" "$((size / 1000000))" "$ack_ms" "$good_ms" "$mail_ms" "$good_mail" "$peak" \
        "$(((data1 - data0) / 1000000))" "$ackkb" "$term"
    mail=$(mail_of "$c.xml" "$d/var")
    [ -n "$mail" ] && echo "#   $c: mail $(($(stat -c %s "$mail") / 1024)) KiB"
    rm -rf "$d"
done
