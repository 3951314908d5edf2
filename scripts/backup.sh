#!/bin/bash
# Back up the AIM data folder (database, archive, logs, mail queue) as one tar.gz (run as root).
#
#   scripts/backup.sh [--data DIR] [--out DIR] [--service UNIT | --no-service] [--keep N]
#
#   --data DIR      the daemon's data folder           (AIM_DATA, default /srv/aim/data)
#   --out DIR       where backups go                   (AIM_BACKUP_DIR, default /var/backups/aim)
#   --service UNIT  systemd unit of the daemon         (AIM_SERVICE, default aim)
#   --no-service    do not stop/start any unit (the daemon must already be stopped)
#   --keep N        afterwards delete all but the newest N backups in --out
#
# The database is sled, which one process holds open and which is only consistent on disk when
# that process has stopped. So: if the unit is running it is stopped (the daemon finishes the file
# in hand and exits), the folder is archived, and the unit is started again, also when the backup
# fails. Files partners upload meanwhile wait in their inboxes and are picked up after the start.
# If any process still has a file of the data folder open, nothing is archived.
#
# Output: <out>/aim-data-<UTC time>.tar.gz (mode 0600) and a .sha256 beside it; the archive's path
# is the last line printed. Restore with scripts/restore.sh <archive>.
set -euo pipefail
umask 077

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { echo "$prog: $*" >&2; echo "usage: $prog [--data DIR] [--out DIR] [--service UNIT | --no-service] [--keep N]" >&2; exit 2; }
say() { echo "$prog: $*" >&2; }

data=${AIM_DATA:-/srv/aim/data}
out=${AIM_BACKUP_DIR:-/var/backups/aim}
service=${AIM_SERVICE:-aim}
use_service=1
keep=""
while [ $# -gt 0 ]; do
    case "$1" in
        --data) [ $# -ge 2 ] || usage "--data needs a value"; data=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage "--out needs a value"; out=$2; shift 2 ;;
        --service) [ $# -ge 2 ] || usage "--service needs a value"; service=$2; shift 2 ;;
        --no-service) use_service=0; shift ;;
        --keep) [ $# -ge 2 ] || usage "--keep needs a value"; keep=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) usage "unexpected argument $1" ;;
    esac
done
[ -z "$keep" ] || [[ $keep =~ ^[1-9][0-9]*$ ]] || usage "--keep needs a number >= 1"
[ "$(id -u)" -eq 0 ] || die "must run as root (the data folder belongs to the daemon's user)"
[ -d "$data" ] || die "data folder '$data' does not exist"
data=$(cd "$data" && pwd -P)
[ "$data" != / ] || die "refusing to archive /"

# Which processes have a file under $1 open?  (pids, one a line)
holders() {
    local d=$1 fd t
    for fd in /proc/[0-9]*/fd/*; do
        t=$(readlink "$fd" 2>/dev/null) || continue
        case "$t" in "$d"|"$d"/*) fd=${fd#/proc/}; echo "${fd%%/*}" ;; esac
    done | sort -un
}

stopped=0
restart() {
    if [ "$stopped" = 1 ]; then
        say "starting $service again"
        systemctl start "$service" || say "WARNING: could not start $service: start it by hand (systemctl start $service)"
        stopped=0
    fi
}
trap restart EXIT
trap 'exit 130' INT TERM

if [ "$use_service" = 1 ] && command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    say "stopping $service (it finishes the file in hand)"
    systemctl stop "$service"
    stopped=1
fi
busy=$(holders "$data")
if [ -n "$busy" ]; then
    for p in $busy; do say "process $p ($(readlink "/proc/$p/exe" 2>/dev/null || echo '?')) has files in $data open"; done
    die "the data folder is in use: stop the daemon first (systemctl stop $service), then run again"
fi

mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
archive="$out/aim-data-$stamp.tar.gz"
[ ! -e "$archive" ] || die "'$archive' already exists"
parent=$(dirname "$data")
base=$(basename "$data")
say "archiving $data"
tar --create --gzip --numeric-owner --sparse \
    --exclude="$base/aim.sock" \
    --file "$archive.partial" -C "$parent" "$base"
restart
sync -f "$archive.partial" 2>/dev/null || sync
mv "$archive.partial" "$archive"
(cd "$out" && sha256sum "$(basename "$archive")" >"$(basename "$archive").sha256")

if [ -n "$keep" ]; then
    # names sort by time; drop all but the newest $keep
    mapfile -t old < <(find "$out" -maxdepth 1 -name 'aim-data-*.tar.gz' -printf '%f\n' | sort -r | tail -n +"$((keep + 1))")
    for f in ${old[@]+"${old[@]}"}; do
        rm -f "$out/$f" "$out/$f.sha256"
        say "removed old backup $f"
    done
fi

say "backup written ($(du -h "$archive" | cut -f1))"
echo "$archive"
