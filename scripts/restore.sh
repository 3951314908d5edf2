#!/bin/bash
# Restore the AIM data folder from a backup made by scripts/backup.sh (run as root).
#
#   scripts/restore.sh [--data DIR] [--service UNIT | --no-service] ARCHIVE
#
#   --data DIR      the daemon's data folder to replace (AIM_DATA, default /srv/aim/data)
#   --service UNIT  systemd unit of the daemon          (AIM_SERVICE, default aim)
#   --no-service    do not stop/start any unit (the daemon must already be stopped)
#
# Steps: check the archive (its .sha256 if present, and that it holds one folder); stop the unit if
# it runs; unpack into a new folder beside the data folder (same file system); move the current
# data folder aside to <data>.pre-restore-<UTC time> (kept: delete it by hand once satisfied); move
# the unpacked folder into place (owners and modes as archived); start the unit again if it was
# running. If any process still has a file of the data folder open, nothing is changed.
set -euo pipefail
umask 077

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { echo "$prog: $*" >&2; echo "usage: $prog [--data DIR] [--service UNIT | --no-service] ARCHIVE" >&2; exit 2; }
say() { echo "$prog: $*" >&2; }

data=${AIM_DATA:-/srv/aim/data}
service=${AIM_SERVICE:-aim}
use_service=1
archive=""
while [ $# -gt 0 ]; do
    case "$1" in
        --data) [ $# -ge 2 ] || usage "--data needs a value"; data=$2; shift 2 ;;
        --service) [ $# -ge 2 ] || usage "--service needs a value"; service=$2; shift 2 ;;
        --no-service) use_service=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) usage "unknown option $1" ;;
        *) [ -z "$archive" ] || usage "only one ARCHIVE"; archive=$1; shift ;;
    esac
done
[ -n "$archive" ] || usage "ARCHIVE missing"
[ "$(id -u)" -eq 0 ] || die "must run as root (owners and modes are restored as archived)"
[ -f "$archive" ] || die "no such archive '$archive'"
case "$data" in /*) ;; *) data="$(pwd -P)/$data" ;; esac
data=${data%/}
{ [ -n "$data" ] && [ "$data" != / ]; } || die "refusing to replace /"
parent=$(dirname "$data")
[ -d "$parent" ] || die "folder '$parent' does not exist"

# ---- check the archive before touching anything ----------------------------------------------
if [ -f "$archive.sha256" ]; then
    want=$(cut -d' ' -f1 <"$archive.sha256")
    have=$(sha256sum <"$archive" | cut -d' ' -f1)
    [ "$want" = "$have" ] || die "'$archive' does not match its .sha256: damaged or wrong file"
    say "checksum ok"
fi
listing=$(tar --list --gzip --file "$archive") || die "'$archive' is not a readable tar.gz"
tops=$(printf '%s\n' "$listing" | sed 's#^\./##; s#/.*##' | sort -u)
[ "$(printf '%s\n' "$tops" | grep -c .)" = 1 ] || die "'$archive' does not hold exactly one folder: not made by backup.sh?"
if printf '%s\n' "$listing" | grep -qE '(^/|(^|/)\.\.(/|$))'; then
    die "'$archive' holds absolute or '..' paths: refusing"
fi

holders() {
    local d=$1 fd t
    for fd in /proc/[0-9]*/fd/*; do
        t=$(readlink "$fd" 2>/dev/null) || continue
        case "$t" in "$d"|"$d"/*) fd=${fd#/proc/}; echo "${fd%%/*}" ;; esac
    done | sort -un
}

was_active=0
stage=""
cleanup() {
    [ -z "$stage" ] || rm -rf "$stage"
    if [ "$was_active" = 1 ]; then
        say "starting $service again"
        systemctl start "$service" || say "WARNING: could not start $service: start it by hand (systemctl start $service)"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$use_service" = 1 ] && command -v systemctl >/dev/null && systemctl is-active --quiet "$service" 2>/dev/null; then
    say "stopping $service"
    systemctl stop "$service"
    was_active=1
fi
if [ -d "$data" ]; then
    busy=$(holders "$(cd "$data" && pwd -P)")
    if [ -n "$busy" ]; then
        for p in $busy; do say "process $p ($(readlink "/proc/$p/exe" 2>/dev/null || echo '?')) has files in $data open"; done
        die "the data folder is in use: stop the daemon first (systemctl stop $service), then run again"
    fi
fi

# ---- unpack beside the data folder, then swap ------------------------------------------------
stage=$(mktemp -d "$parent/.aim-restore.XXXXXX")
say "unpacking $archive"
tar --extract --gzip --same-permissions --same-owner --numeric-owner --file "$archive" -C "$stage"
top=$(find "$stage" -mindepth 1 -maxdepth 1)
{ [ -d "$top" ] && [ ! -L "$top" ]; } || die "the archive's top entry is not a folder"
sync -f "$top" 2>/dev/null || sync

aside=""
if [ -e "$data" ] || [ -L "$data" ]; then
    aside="$data.pre-restore-$(date -u +%Y%m%dT%H%M%SZ)"
    mv "$data" "$aside"
fi
if ! mv "$top" "$data"; then
    [ -z "$aside" ] || mv "$aside" "$data"
    die "could not move the restored folder into place; $data is unchanged"
fi
rmdir "$stage"
stage=""
say "restored $data from $archive"
[ -z "$aside" ] || say "the previous data folder is kept as $aside (delete it once the restore is checked)"
[ "$was_active" = 1 ] || [ "$use_service" = 0 ] || say "the unit was not running: start it with systemctl start $service"
