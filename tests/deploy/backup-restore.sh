#!/bin/bash
# Test scripts/backup.sh and scripts/restore.sh on a fake data folder (run as root; no daemon,
# no systemd needed: --no-service). Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
backup="$repo/scripts/backup.sh"
restore="$repo/scripts/restore.sh"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
nok() { fail=$((fail + 1)); echo "FAIL - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }

[ "$(id -u)" -eq 0 ] || { echo "run as root"; echo "0 passed, 1 failed"; exit 1; }

root=$(mktemp -d /tmp/aim-backup-test.XXXXXX)
holder_pid=""
cleanup() {
    [ -z "$holder_pid" ] || kill "$holder_pid" 2>/dev/null
    rm -rf "$root"
}
trap cleanup EXIT

data="$root/srv/data"
out="$root/backups"

# Which tree state: path, type, mode, owner, group, size (+ content hash of regular files).
snapshot() {
    (cd "$1" && find . -mindepth 1 ! -type s -printf '%P|%y|%m|%U|%G|%s\n' | sort &&
        find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# ---- a fake data folder, with owners and modes like production -----------------------------
mkdir -p "$data"/{archive/2026-11-28,log,mail,db,fallback/inbox}
chown 65534:65533 "$data" 2>/dev/null || chown 65534:65534 "$data"
chmod 0710 "$data"
head -c 1048576 /dev/urandom >"$data/db/db"
printf 'conf\n' >"$data/db/conf"
printf '<LicenseFiling/>\n' >"$data/archive/2026-11-28/x.xml"
printf 'log line\n' >"$data/log/aim.log.2026-11-28"
printf 'Subject: ack\n\nbody\n' >"$data/mail/0001.eml"
truncate -s 10M "$data/db/sparse"                     # sparse file stays correct
chown -R 65534:65534 "$data/db" "$data/log" "$data/mail"
chown 4242:4343 "$data/archive/2026-11-28/x.xml"     # a partner's uid, not in /etc/passwd
chmod 0640 "$data/db/db" "$data/log/aim.log.2026-11-28"
chmod 2750 "$data/fallback"
if command -v python3 >/dev/null; then
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$data/aim.sock"
fi
before=$(snapshot "$data")

# ---- backup ---------------------------------------------------------------------------------
archive=$("$backup" --no-service --data "$data" --out "$out" 2>"$root/backup.err" | tail -n1)
rc=$?
check "backup exits 0" [ "$rc" = 0 ]
check "backup prints the archive path" [ -f "$archive" ]
check "archive mode is 0600" [ "$(stat -c %a "$archive" 2>/dev/null)" = 600 ]
check "checksum file written and valid" bash -c "cd '$out' && sha256sum -c --quiet '$(basename "$archive").sha256'"
check "control socket not archived" bash -c "! tar -tzf '$archive' | grep -q 'aim.sock'"
check "data folder untouched by backup" [ "$(snapshot "$data")" = "$before" ]

# ---- change the data, then restore ----------------------------------------------------------
rm -f "$data/mail/0001.eml"
printf 'new\n' >"$data/archive/2026-11-28/y.xml"
head -c 4096 /dev/urandom >"$data/db/db"
chmod 0755 "$data"
changed=$(snapshot "$data")

"$restore" --no-service --data "$data" "$archive" 2>"$root/restore.err"
rc=$?
check "restore exits 0" [ "$rc" = 0 ]
after=$(snapshot "$data")
if [ "$after" = "$before" ]; then ok "restored tree equals the backed-up tree (paths, modes, owners, sizes, contents)"
else nok "restored tree differs:"; diff <(echo "$before") <(echo "$after") | head -20; fi
aside=$(find "$root/srv" -maxdepth 1 -name 'data.pre-restore-*' | head -n1)
check "previous data folder kept aside" [ -n "$aside" ]
check "kept folder holds the pre-restore state" [ "$(snapshot "$aside" 2>/dev/null)" = "$changed" ]
check "no staging folder left behind" [ -z "$(find "$root/srv" -maxdepth 1 -name '.aim-restore.*')" ]
rm -rf "$aside"

# ---- restore into a place where no data folder exists (new machine) ------------------------
"$restore" --no-service --data "$root/new/data" "$archive" 2>/dev/null
rc=$?
check "restore refuses when the data folder's parent is missing" [ "$rc" != 0 ]
check "  ... and creates nothing" [ ! -e "$root/new" ]
mkdir -p "$root/new"
"$restore" --no-service --data "$root/new/data" "$archive" 2>/dev/null
check "restore into a missing data folder (new machine)" [ "$(snapshot "$root/new/data" 2>/dev/null)" = "$before" ]

# ---- refusals ---------------------------------------------------------------------------------
bash -c 'exec 3<"$1"; exec sleep 60' _ "$data/db/db" &
holder_pid=$!
sleep 0.3
n_before=$(find "$out" -name '*.tar.gz' | wc -l)
"$backup" --no-service --data "$data" --out "$out" >/dev/null 2>"$root/busy.err"
rc=$?
check "backup refuses while a process holds the data folder open" [ "$rc" != 0 ]
check "  ... and says which process" grep -q "process $holder_pid" "$root/busy.err"
check "  ... and writes no archive" [ "$(find "$out" -name '*.tar.gz*' ! -name '*.sha256' | wc -l)" = "$n_before" ]
"$restore" --no-service --data "$data" "$archive" >/dev/null 2>&1
rc=$?
check "restore refuses while a process holds the data folder open" [ "$rc" != 0 ]
check "  ... and leaves the data folder as it was" [ "$(snapshot "$data")" = "$before" ]
kill "$holder_pid" 2>/dev/null; wait "$holder_pid" 2>/dev/null; holder_pid=""

cp "$archive" "$root/damaged.tar.gz"
cp "$archive.sha256" "$root/damaged.tar.gz.sha256"
sed -i "s/ .*/  damaged.tar.gz/" "$root/damaged.tar.gz.sha256"
printf 'X' | dd of="$root/damaged.tar.gz" bs=1 seek=100 conv=notrunc 2>/dev/null
"$restore" --no-service --data "$data" "$root/damaged.tar.gz" >/dev/null 2>&1
rc=$?
check "restore refuses an archive that does not match its .sha256" [ "$rc" != 0 ]
check "  ... and leaves the data folder as it was" [ "$(snapshot "$data")" = "$before" ]
printf 'not a tar\n' >"$root/junk.tar.gz"
"$restore" --no-service --data "$data" "$root/junk.tar.gz" >/dev/null 2>&1
check "restore refuses a file that is no tar.gz" [ $? != 0 ]

# ---- --keep -------------------------------------------------------------------------------------
sleep 1.1
"$backup" --no-service --data "$data" --out "$out" --keep 1 >/dev/null 2>&1
check "--keep 1 leaves one backup" [ "$(find "$out" -name 'aim-data-*.tar.gz' | wc -l)" = 1 ]
check "--keep 1 keeps the newest" [ ! -e "$archive" ]

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
