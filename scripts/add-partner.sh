#!/bin/bash
# Register an AIM filing partner for SFTP drop-off (run as root).
#
#   scripts/add-partner.sh [options] ID PUBKEY_FILE CONFIG_FILE
#
# Creates (or brings back in line, when run again):
#   - the Unix user (default sftp-<id in lower case>): no shell, password field "*"
#     (no password can match, yet the account is not "locked" for sshd), its own
#     primary group of the same name, member of the partner group (default aim-partners);
#     its home is the chroot, so sshd's "ChrootDirectory %h" finds it;
#   - the chroot <sftp-root>/<ID>     root:root            0755
#       <sftp-root>/<ID>/inbox        <user>:<aim group>   2770  partner uploads, daemon reads and moves out
#       <sftp-root>/<ID>/outbox       <aim user>:<user>    2750  daemon writes acks, partner reads
#   - <keys-dir>/<user> (root:root 0644): the public key(s) from PUBKEY_FILE, each with
#     the "restrict" option; keys already there are kept (use --replace-keys to start over);
#   - a [[partner]] entry in CONFIG_FILE with inbox/outbox pointing into the chroot,
#     unless an entry with this id is already there.
#
# Options (each also settable by the environment variable shown):
#   --name TEXT           company name for the config entry        (default: the ID)
#   --email ADDR          notification address, repeatable; at least one is needed
#                         for a new config entry
#   --user NAME           Unix user name                            (default: sftp-<id lower case>)
#   --sftp-root DIR       AIM_SFTP_ROOT        (default /srv/aim/sftp)
#   --keys-dir DIR        AIM_KEYS_DIR         (default /etc/ssh/aim-partner-keys)
#   --aim-user NAME       AIM_USER             the daemon's user  (default aim)
#   --aim-group NAME      AIM_GROUP            the daemon's group (default aim)
#   --partner-group NAME  AIM_PARTNER_GROUP    (default aim-partners)
#   --replace-keys        replace the authorized keys instead of adding to them
#
# Exit status: 0 done (or nothing to do), 2 bad arguments, 1 anything else.
# The daemon reads its config at start: restart it (systemctl restart aim) after adding a partner.
set -euo pipefail
umask 022

prog=${0##*/}
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { echo "$prog: $*" >&2; echo "usage: $prog [--name TEXT] [--email ADDR]... [--user NAME] [--sftp-root DIR] [--keys-dir DIR] [--aim-user NAME] [--aim-group NAME] [--partner-group NAME] [--replace-keys] ID PUBKEY_FILE CONFIG_FILE" >&2; exit 2; }
say() { echo "$prog: $*"; }

sftp_root=${AIM_SFTP_ROOT:-/srv/aim/sftp}
keys_dir=${AIM_KEYS_DIR:-/etc/ssh/aim-partner-keys}
aim_user=${AIM_USER:-aim}
aim_group=${AIM_GROUP:-aim}
partner_group=${AIM_PARTNER_GROUP:-aim-partners}
name=""
user=""
emails=()
replace_keys=0
args=()

while [ $# -gt 0 ]; do
    case "$1" in
        --name) [ $# -ge 2 ] || usage "--name needs a value"; name=$2; shift 2 ;;
        --email) [ $# -ge 2 ] || usage "--email needs a value"; emails+=("$2"); shift 2 ;;
        --user) [ $# -ge 2 ] || usage "--user needs a value"; user=$2; shift 2 ;;
        --sftp-root) [ $# -ge 2 ] || usage "--sftp-root needs a value"; sftp_root=$2; shift 2 ;;
        --keys-dir) [ $# -ge 2 ] || usage "--keys-dir needs a value"; keys_dir=$2; shift 2 ;;
        --aim-user) [ $# -ge 2 ] || usage "--aim-user needs a value"; aim_user=$2; shift 2 ;;
        --aim-group) [ $# -ge 2 ] || usage "--aim-group needs a value"; aim_group=$2; shift 2 ;;
        --partner-group) [ $# -ge 2 ] || usage "--partner-group needs a value"; partner_group=$2; shift 2 ;;
        --replace-keys) replace_keys=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; args+=("$@"); break ;;
        -*) usage "unknown option $1" ;;
        *) args+=("$1"); shift ;;
    esac
done
[ ${#args[@]} -eq 3 ] || usage "expected ID PUBKEY_FILE CONFIG_FILE"
id=${args[0]}
pubkey_file=${args[1]}
config=${args[2]}

# ---- validate everything before changing anything -------------------------------------------
if ! [[ $id =~ ^[A-Z0-9]{2,15}$ ]]; then
    echo "$prog: error: partner id '$id' is not 2-15 characters A-Z 0-9 (spec section 1)" >&2
    exit 2
fi
[ -n "$name" ] || name=$id
[ -n "$user" ] || user="sftp-${id,,}"
[[ $user =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || { echo "$prog: error: bad Unix user name '$user'" >&2; exit 2; }
if [[ $name =~ [[:cntrl:]] ]] || [ ${#name} -gt 100 ]; then
    echo "$prog: error: --name must be 1-100 characters without control characters" >&2; exit 2
fi
for e in ${emails[@]+"${emails[@]}"}; do
    [[ $e =~ ^[^[:space:][:cntrl:]\"\\@]+@[^[:space:][:cntrl:]\"\\@]+\.[^[:space:][:cntrl:]\"\\@]+$ ]] ||
        { echo "$prog: error: '$e' is not an e-mail address" >&2; exit 2; }
done
for d in "$sftp_root" "$keys_dir"; do
    case "$d" in /*) ;; *) echo "$prog: error: '$d' must be an absolute path" >&2; exit 2 ;; esac
done
[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -r "$pubkey_file" ] || die "cannot read public key file '$pubkey_file'"
[ -f "$config" ] || die "config file '$config' does not exist (create it first, see deploy/aim.toml.example)"
getent passwd "$aim_user" >/dev/null || die "daemon user '$aim_user' does not exist (see docs/deploy.md, step 1)"
getent group "$aim_group" >/dev/null || die "daemon group '$aim_group' does not exist (see docs/deploy.md, step 1)"
command -v ssh-keygen >/dev/null || die "ssh-keygen not found (apt-get install openssh-client)"

# Public keys: one per line, validated by ssh-keygen; private keys are refused.
grep -q 'PRIVATE KEY' "$pubkey_file" && die "'$pubkey_file' holds a PRIVATE key: give the partner's .pub file"
tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT
new_keys=()
while IFS= read -r line || [ -n "$line" ]; do
    line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    printf '%s\n' "$line" >"$tmpd/one.pub"
    ssh-keygen -l -f "$tmpd/one.pub" >/dev/null 2>&1 || die "not a valid OpenSSH public key line in '$pubkey_file': ${line:0:60}"
    # keep "type base64 [comment]" only: options given by the partner are dropped
    read -r -a parts <<<"$line"
    i=0
    while [ $i -lt ${#parts[@]} ] && ! [[ ${parts[$i]} =~ ^(ssh-|ecdsa-|sk-) ]]; do i=$((i + 1)); done
    [ $((i + 1)) -lt ${#parts[@]} ] || die "cannot find the key type in: ${line:0:60}"
    new_keys+=("${parts[$i]} ${parts[$((i + 1))]}")
done <"$pubkey_file"
[ ${#new_keys[@]} -gt 0 ] || die "no public key found in '$pubkey_file'"

chroot_dir="$sftp_root/$id"
inbox="$chroot_dir/inbox"
outbox="$chroot_dir/outbox"

# Does the config already have this partner?  (awk: an `id = "<ID>"` line inside a [[partner]] table)
config_has_partner() {
    awk -v want="$id" '
        /^[[:space:]]*\[/ { in_p = ($0 ~ /^[[:space:]]*\[\[[[:space:]]*partner[[:space:]]*\]\]/) ; next }
        in_p && $0 ~ /^[[:space:]]*id[[:space:]]*=/ {
            v = $0; sub(/^[^=]*=[[:space:]]*/, "", v); sub(/[[:space:]]*(#.*)?$/, "", v)
            gsub(/^["\047]|["\047]$/, "", v)
            if (v == want) { found = 1 }
        }
        END { exit(found ? 0 : 1) }' "$config"
}
if ! config_has_partner && [ ${#emails[@]} -eq 0 ]; then
    echo "$prog: error: a new partner needs at least one --email address for the config entry" >&2
    exit 2
fi

# An existing user of that name must be ours (home = the chroot), never someone else's account.
if getent passwd "$user" >/dev/null; then
    home=$(getent passwd "$user" | cut -d: -f6)
    [ "$home" = "$chroot_dir" ] || die "Unix user '$user' already exists with home '$home', not '$chroot_dir': choose another --user"
fi

# ---- groups and user -------------------------------------------------------------------------
if ! getent group "$partner_group" >/dev/null; then
    groupadd --system "$partner_group"
    say "created group $partner_group"
fi

nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
if ! getent passwd "$user" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir "$chroot_dir" \
        --shell "$nologin" --groups "$partner_group" --comment "AIM partner $id (SFTP only)" "$user"
    say "created user $user"
else
    usermod --append --groups "$partner_group" --shell "$nologin" "$user"
fi
# "*": no password matches, and sshd (also with UsePAM no) does not treat the account as locked ("!").
usermod --password '*' "$user"
user_group=$(id -gn "$user")

# ---- folders ---------------------------------------------------------------------------------
# sshd's ChrootDirectory: every component of the path must be owned by root and not writable by
# group or others.
mkdir -p "$sftp_root"
p=$chroot_dir
while :; do
    if [ -e "$p" ]; then
        own=$(stat -c %u "$p"); mode=$(stat -c %a "$p")
        if [ "$own" != 0 ] || (( (8#$mode & 8#022) != 0 )); then
            die "'$p' (owner uid $own, mode $mode) must be owned by root and not group/other-writable for sshd's ChrootDirectory"
        fi
    fi
    [ "$p" = / ] && break
    p=$(dirname "$p")
done

install -d -o root -g root -m 0755 "$chroot_dir"
chown root:root "$chroot_dir"; chmod 0755 "$chroot_dir"
install -d "$inbox" "$outbox"
chown "$user:$aim_group" "$inbox";     chmod 2770 "$inbox"
chown "$aim_user:$user_group" "$outbox"; chmod 2750 "$outbox"
# Nothing else belongs in the chroot.
for extra in "$chroot_dir"/* "$chroot_dir"/.[!.]* "$chroot_dir"/..?*; do
    [ -e "$extra" ] || [ -L "$extra" ] || continue
    case "$extra" in "$inbox"|"$outbox") ;; *) echo "$prog: warning: unexpected '$extra' in the chroot: the partner can see it" >&2 ;; esac
done

# ---- authorized keys -------------------------------------------------------------------------
install -d -o root -g root -m 0755 "$keys_dir"
keyfile="$keys_dir/$user"
{
    if [ "$replace_keys" = 0 ] && [ -f "$keyfile" ]; then cat "$keyfile"; fi
} >"$tmpd/keys"
added=0
for k in "${new_keys[@]}"; do
    blob=${k#* }
    if ! awk -v b="$blob" '{ for (i = 1; i <= NF; i++) if ($i == b) f = 1 } END { exit(f ? 0 : 1) }' "$tmpd/keys"; then
        printf 'restrict %s aim-partner-%s\n' "$k" "$id" >>"$tmpd/keys"
        added=$((added + 1))
    fi
done
if [ ! -f "$keyfile" ] || ! cmp -s "$tmpd/keys" "$keyfile"; then
    install -o root -g root -m 0644 "$tmpd/keys" "$keyfile.new"
    mv -f "$keyfile.new" "$keyfile"
    say "authorized keys for $user: $added added ($keyfile)"
else
    chown root:root "$keyfile"; chmod 0644 "$keyfile"
fi

# ---- config entry ----------------------------------------------------------------------------
toml_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
exec 9>>"$config"
flock 9 2>/dev/null || true
if config_has_partner; then
    grep -qF "$inbox" "$config" ||
        echo "$prog: warning: $config already has partner $id, but not with inbox $inbox: check its inbox/outbox keys" >&2
    say "config $config already has partner $id (left as it is)"
else
    email_list=""
    for e in "${emails[@]}"; do email_list+="${email_list:+, }$(toml_str "$e")"; done
    # make sure the file ends with a newline before appending
    if [ -s "$config" ] && [ "$(tail -c1 "$config" | od -An -c | tr -d ' ')" != '\n' ]; then echo >&9; fi
    {
        echo
        echo "[[partner]]"
        echo "id     = $(toml_str "$id")"
        echo "name   = $(toml_str "$name")"
        echo "emails = [$email_list]"
        echo "inbox  = $(toml_str "$inbox")"
        echo "outbox = $(toml_str "$outbox")"
    } >&9
    say "added partner $id to $config (restart the daemon to pick it up)"
fi
exec 9>&-

say "partner $id ready: user $user, chroot $chroot_dir"
