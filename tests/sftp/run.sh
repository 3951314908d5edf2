#!/bin/bash
# shellcheck disable=SC2317,SC2012,SC2016  # functions run via trap/check; ls of known names
# End-to-end test of the SFTP drop-off: a real OpenSSH sshd with the chroot of
# deploy/sshd_config.d/aim-sftp.conf, partners made by scripts/add-partner.sh, real `sftp` clients,
# and the AIM daemon (spec section 8: `aim daemon --config FILE`) picking files up and acking them.
#
# Run as root:   tests/sftp/run.sh
#
# Environment:
#   AIM_BIN           daemon binary (default target/release/aim if present, else target/debug/aim)
#   AIM_SAMPLES       sample filings (default <repo>/../shared/samples)
#   AIM_SKIP_DAEMON=1 only the sshd / chroot / add-partner / permission checks
#   AIM_ACK_TIMEOUT   seconds to wait for acknowledgements (default 30)
#   AIM_DAEMON_AS_ROOT=1  run the daemon as root; by default it runs as the test's service user
#                     with umask 0027 and CAP_DAC_READ_SEARCH, as deploy/aim.service runs it
#   AIM_TEST_TMPDIR   parent of the temporary root. It must be root-owned and not group/other-
#                     writable all the way up, as sshd's ChrootDirectory demands, so /tmp (mode
#                     1777) cannot be used; default: the first of /run /srv /var/lib that qualifies.
#   AIM_KEEP_TMP=1    keep the temporary root for inspection (users and processes still go)
#
# It never touches /etc/ssh or a running system sshd: its own sshd listens on 127.0.0.1 on a free
# port with its own host key and config. It creates Unix users/groups named aimtest-* and removes
# them on exit. Last line: "N passed, N failed"; exit status non-zero on any failure.
set -uo pipefail
umask 022

repo=$(cd "$(dirname "$0")/../.." && pwd)
samples=${AIM_SAMPLES:-$(dirname "$repo")/shared/samples}
skip_daemon=${AIM_SKIP_DAEMON:-0}
ack_timeout=${AIM_ACK_TIMEOUT:-30}
if [ -z "${AIM_BIN:-}" ]; then
    if [ -x "$repo/target/release/aim" ]; then AIM_BIN="$repo/target/release/aim"; else AIM_BIN="$repo/target/debug/aim"; fi
fi

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
nok() { fail=$((fail + 1)); echo "FAIL - $*"; }
skip() { echo "skip - $*"; }
note() { echo "#      $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; return 1; fi; }
section() { echo; echo "# $*"; }
finish() { echo; echo "$pass passed, $fail failed"; [ "$fail" = 0 ] && exit 0; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/sftp/run.sh must run as root (it creates Unix users and runs sshd)"
    nok "running as root"; finish
fi

# Names used by this test only (removed again on exit).
svc=aimtest-svc            # stands for the daemon's user/group "aim"
pgroup=aimtest-partners    # stands for "aim-partners"
ua=aimtest-sftpa
ub=aimtest-sftpb
PA=SFTPA
PB=SFTPB

root=""
sshd_pid=""
daemon_pid=""
made_privsep=0
made_policy=0

cleanup() {
    set +e
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$daemon_pid" 2>/dev/null
    fi
    if [ -n "$sshd_pid" ]; then kill -TERM "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null; fi
    for u in "$ua" "$ub" aimtest-bad "$svc"; do
        if getent passwd "$u" >/dev/null; then userdel "$u" 2>/dev/null || userdel -f "$u" 2>/dev/null; fi
    done
    for g in "$pgroup" "$ua" "$ub" aimtest-bad "$svc"; do getent group "$g" >/dev/null && groupdel "$g" 2>/dev/null; done
    [ "$made_privsep" = 1 ] && rmdir /run/sshd 2>/dev/null
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    if [ -n "$root" ] && [ -d "$root" ]; then
        if [ "${AIM_KEEP_TMP:-0}" = 1 ]; then echo "# kept $root"; else rm -rf "$root"; fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
section "tools"
need_install=0
for c in /usr/sbin/sshd sftp ssh ssh-keygen; do command -v "$c" >/dev/null || need_install=1; done
if [ "$need_install" = 1 ]; then
    # keep the package's own sshd from being started (it would listen on 0.0.0.0:22)
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y openssh-server openssh-client >/dev/null 2>&1 ||
        { apt-get update >/dev/null 2>&1 && apt-get install -y openssh-server openssh-client >/dev/null 2>&1; }
    if [ "$made_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; made_policy=0; fi
fi
for c in /usr/sbin/sshd sftp ssh ssh-keygen setpriv; do
    command -v "$c" >/dev/null || { nok "$c is available"; finish; }
done
ok "openssh-server, openssh-client and setpriv available ($(/usr/sbin/sshd -V 2>&1 | head -n1))"

# Leftovers of an earlier run that was killed: only our own aimtest-* accounts.
for u in "$ua" "$ub" aimtest-bad "$svc"; do
    if getent passwd "$u" >/dev/null; then
        case "$(getent passwd "$u" | cut -d: -f5,6)" in
            *aim-sftp-test.*|"aim sftp test"*) userdel "$u" 2>/dev/null || userdel -f "$u" 2>/dev/null ;;
            *) nok "user $u exists and is not from this test: remove it first"; finish ;;
        esac
    fi
done
for g in "$pgroup" "$ua" "$ub" aimtest-bad "$svc"; do getent group "$g" >/dev/null && groupdel "$g" 2>/dev/null; done

# ---------------------------------------------------------------------------------------------
section "temporary root"
# sshd refuses a ChrootDirectory with any path component that is not root-owned or is
# group/other-writable; /tmp is 1777, so the root must live elsewhere.
chroot_safe() {
    local p=$1
    while :; do
        [ "$(stat -c %u "$p" 2>/dev/null)" = 0 ] || return 1
        (( (8#$(stat -c %a "$p") & 8#022) == 0 )) || return 1
        [ "$p" = / ] && return 0
        p=$(dirname "$p")
    done
}
parent=""
for p in ${AIM_TEST_TMPDIR:-} /run /srv /var/lib; do
    if [ -d "$p" ] && chroot_safe "$p"; then parent=$p; break; fi
done
[ -n "$parent" ] || { nok "a root-owned, not group/other-writable folder for the temporary root"; finish; }
root=$(mktemp -d "$parent/aim-sftp-test.XXXXXX")
chmod 0755 "$root"
check "temporary root $root is usable for ChrootDirectory" chroot_safe "$root"
mkdir -p "$root/client" "$root/sshd/sshd_config.d" "$root/data"
if [ ! -d /run/sshd ]; then mkdir -p /run/sshd && chmod 0755 /run/sshd && made_privsep=1; fi

# ---------------------------------------------------------------------------------------------
section "scripts/add-partner.sh"
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    --comment "aim sftp test daemon user" "$svc" || { nok "create $svc"; finish; }
for p in sftpa sftpb; do
    ssh-keygen -q -t ed25519 -N '' -C "aimtest-$p" -f "$root/client/$p.key" || { nok "ssh-keygen"; finish; }
done
config="$root/aim.toml"
cat >"$config" <<EOF
# written by tests/sftp/run.sh
inbox  = "$root/data/inbox"
outbox = "$root/data/outbox"
data   = "$root/data"

[intake]
settle_ms   = 300
rescan_secs = 2

[mail]
transport = "file"
EOF

export AIM_SFTP_ROOT="$root/sftp" AIM_KEYS_DIR="$root/authorized_keys" \
    AIM_USER="$svc" AIM_GROUP="$svc" AIM_PARTNER_GROUP="$pgroup"
add_partner() { "$repo/scripts/add-partner.sh" "$@"; }

add_partner --user "$ua" --name "SFTP Test A Brokerage" --email filings@sftpa.example --email ops@sftpa.example \
    "$PA" "$root/client/sftpa.key.pub" "$config" >"$root/add-a.log" 2>&1
check "add-partner $PA exits 0" [ $? = 0 ]
add_partner --user "$ub" --name 'SFTP "Test" B \ Co' --email filings@sftpb.example \
    "$PB" "$root/client/sftpb.key.pub" "$config" >"$root/add-b.log" 2>&1
check "add-partner $PB exits 0" [ $? = 0 ]

ca="$root/sftp/$PA"
cb="$root/sftp/$PB"
perm() { stat -c '%U:%G %a' "$1" 2>/dev/null; }
check "chroot $PA is root:root 755" [ "$(perm "$ca")" = "root:root 755" ]
check "inbox $PA is $ua:$svc 2770" [ "$(perm "$ca/inbox")" = "$ua:$svc 2770" ]
check "outbox $PA is $svc:$ua 2750" [ "$(perm "$ca/outbox")" = "$svc:$ua 2750" ]
check "chroot $PB holds exactly inbox and outbox" [ "$(ls -A "$cb" | tr '\n' ' ')" = "inbox outbox " ]
check "user $ua: home is the chroot, shell nologin" [ "$(getent passwd "$ua" | cut -d: -f6,7)" = "$ca:/usr/sbin/nologin" ]
check "user $ua is in $pgroup, primary group $ua" bash -c "id -nG '$ua' | tr ' ' '\n' | grep -qx '$pgroup' && [ \"\$(id -gn '$ua')\" = '$ua' ]"
check "user $ua has password field '*' (no password, not locked)" [ "$(getent shadow "$ua" | cut -d: -f2)" = "*" ]
check "authorized_keys for $ua: root 644, one restricted key" \
    bash -c "[ \"\$(stat -c '%U %a' '$AIM_KEYS_DIR/$ua')\" = 'root 644' ] && [ \"\$(grep -c '^restrict ssh-ed25519 ' '$AIM_KEYS_DIR/$ua')\" = 1 ]"
if command -v python3 >/dev/null && python3 -c 'import tomllib' 2>/dev/null; then
    got=$(python3 - "$config" <<'EOF'
import sys, tomllib
c = tomllib.load(open(sys.argv[1], "rb"))
for p in c["partner"]:
    print(p["id"], p["name"], ",".join(p["emails"]), p["inbox"], p["outbox"], sep="|")
EOF
)
    want="$PA|SFTP Test A Brokerage|filings@sftpa.example,ops@sftpa.example|$ca/inbox|$ca/outbox
$PB|SFTP \"Test\" B \\ Co|filings@sftpb.example|$cb/inbox|$cb/outbox"
    check "config is valid TOML with both [[partner]] entries (name quoting too)" [ "$got" = "$want" ]
else
    skip "TOML check (no python3 with tomllib)"
fi

# idempotent: again with the same key; a damaged mode gets repaired
cp "$config" "$root/config.before"
cp "$AIM_KEYS_DIR/$ua" "$root/keys.before"
chmod 0777 "$ca/inbox"
add_partner --user "$ua" --name "SFTP Test A Brokerage" --email filings@sftpa.example \
    "$PA" "$root/client/sftpa.key.pub" "$config" >"$root/add-a2.log" 2>&1
check "add-partner again: exits 0" [ $? = 0 ]
check "add-partner again: config unchanged" cmp -s "$config" "$root/config.before"
check "add-partner again: authorized_keys unchanged" cmp -s "$AIM_KEYS_DIR/$ua" "$root/keys.before"
check "add-partner again: inbox mode repaired to 2770" [ "$(perm "$ca/inbox")" = "$ua:$svc 2770" ]

# refusals
for bad in "ab" "A" "ABCDEFGHIJKLMNOP" "AC-ME" "ACME BRK" "ÄCME" ""; do
    add_partner --user aimtest-bad --email x@bad.example "$bad" "$root/client/sftpa.key.pub" "$config" >/dev/null 2>&1
    rc=$?
    check "add-partner refuses partner id '$bad' (exit 2)" [ "$rc" = 2 ]
done
check "refused ids created no user" bash -c "! getent passwd aimtest-bad >/dev/null"
check "refused ids left the config unchanged" cmp -s "$config" "$root/config.before"
add_partner --user aimtest-bad --email x@bad.example BADKEY "$root/client/sftpa.key" "$config" >/dev/null 2>&1
check "add-partner refuses a private key file" [ $? != 0 ]
check "  ... and creates nothing" bash -c "! getent passwd aimtest-bad >/dev/null && [ ! -e '$root/sftp/BADKEY' ]"

# ---------------------------------------------------------------------------------------------
section "sshd with the deploy/ Match block"
snippet="$root/sshd/sshd_config.d/aim-sftp.conf"
sed -e "s#^Match Group aim-partners\$#Match Group $pgroup#" \
    -e "s#/etc/ssh/aim-partner-keys/%u#$AIM_KEYS_DIR/%u#" \
    "$repo/deploy/sshd_config.d/aim-sftp.conf" >"$snippet"
check "deploy snippet adapted (group and key folder only)" \
    bash -c "[ \"\$(diff '$repo/deploy/sshd_config.d/aim-sftp.conf' '$snippet' | grep -c '^>')\" = 2 ]"
ssh-keygen -q -t ed25519 -N '' -f "$root/sshd/host_ed25519_key"
sshd_conf="$root/sshd/sshd_config"
cat >"$sshd_conf" <<EOF
# tests/sftp/run.sh: like Debian's layout, the snippet folder is included first
Include $root/sshd/sshd_config.d/*.conf
ListenAddress 127.0.0.1
HostKey $root/sshd/host_ed25519_key
PidFile $root/sshd/sshd.pid
UsePAM no
StrictModes yes
PermitRootLogin no
AllowGroups $pgroup
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
/usr/sbin/sshd -t -f "$sshd_conf" 2>"$root/sshd/t.err"
check "sshd -t accepts the config" [ $? = 0 ] || cat "$root/sshd/t.err"
eff=$(/usr/sbin/sshd -T -f "$sshd_conf" -C "user=$ua,host=localhost,addr=127.0.0.1" 2>/dev/null)
check "partner session: chrootdirectory %h" grep -qx 'chrootdirectory %h' <<<"$eff"
check "partner session: forcecommand internal-sftp" grep -q '^forcecommand internal-sftp ' <<<"$eff"
check "partner session: disableforwarding yes, permittty no" bash -c "grep -qx 'disableforwarding yes' <<<\"\$1\" && grep -qx 'permittty no' <<<\"\$1\"" _ "$eff"
eff_root=$(/usr/sbin/sshd -T -f "$sshd_conf" -C "user=root,host=localhost,addr=127.0.0.1" 2>/dev/null)
check "the Match block does not leak to other users" grep -qx 'chrootdirectory none' <<<"$eff_root"
if [ -f /etc/ssh/sshd_config ] && grep -q '^Include /etc/ssh/sshd_config.d/\*.conf' /etc/ssh/sshd_config; then
    # the system's own sshd_config (a copy; /etc/ssh is not touched) with the snippet dropped in
    sed "s#^Include /etc/ssh/sshd_config.d/\\*.conf#Include $root/sshd/sshd_config.d/*.conf#" /etc/ssh/sshd_config >"$root/sshd/system_copy"
    /usr/sbin/sshd -t -f "$root/sshd/system_copy" -o "HostKey=$root/sshd/host_ed25519_key" 2>"$root/sshd/t2.err"
    check "the snippet also passes sshd -t inside this system's sshd_config" [ $? = 0 ] || cat "$root/sshd/t2.err"
fi

port=""
for _ in $(seq 10); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue     # taken
    /usr/sbin/sshd -D -f "$sshd_conf" -p "$p" -E "$root/sshd/sshd.log" &
    sshd_pid=$!
    for _ in $(seq 50); do
        kill -0 "$sshd_pid" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
        sleep 0.1
    done
    [ -n "$port" ] && break
    kill "$sshd_pid" 2>/dev/null; wait "$sshd_pid" 2>/dev/null; sshd_pid=""
done
[ -n "$port" ] || { nok "sshd listening on 127.0.0.1"; tail -n 20 "$root/sshd/sshd.log"; finish; }
ok "sshd (pid $sshd_pid) listening on 127.0.0.1:$port"

ssh_opts=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes
    -o IdentitiesOnly=yes -o ConnectTimeout=10 -o LogLevel=ERROR)
# sftp_as KEY USER < batch   (runs in the client folder of KEY; output in $out, exit status in
# $sftp_rc: sftp -b stops at the first failing command and exits non-zero)
out=""
sftp_rc=0
sftp_as() {  # key user [extra sftp options...]
    local key=$1 user=$2
    shift 2
    mkdir -p "$root/client/$key.dir"
    out=$(cd "$root/client/$key.dir" && timeout 60 sftp -b - "${ssh_opts[@]}" "$@" -i "$root/client/$key.key" -P "$port" "$user@127.0.0.1" 2>&1)
    sftp_rc=$?
    return "$sftp_rc"
}
refused() { [ "$sftp_rc" != 0 ] && [ "$sftp_rc" != 124 ]; }   # failed, and not by the timeout
listing() { grep -v '^sftp>' <<<"$out" | tr -s ' \n' ' ' | sed 's/ $//'; }

# ---------------------------------------------------------------------------------------------
section "what a partner sees and may do"
sftp_as sftpa "$ua" <<<$'pwd\nls -1'
check "$PA logs in; starts in / of its chroot" grep -q 'Remote working directory: /$' <<<"$out" || note "$out"
sftp_as sftpa "$ua" <<<$'cd /\nls -1a'
check "$PA sees exactly inbox/ and outbox/ in / (ls -a: $(listing))" [ "$(listing)" = ". .. inbox outbox" ]
sftp_as sftpa "$ub" <<<'ls'
check "$PA's key does not open $PB's account" refused
timeout 20 ssh "${ssh_opts[@]}" -i "$root/client/sftpa.key" -p "$port" "$ua@127.0.0.1" id </dev/null >"$root/ssh-shell.out" 2>&1
check "no shell: 'ssh $ua@ id' runs no command" bash -c "! grep -q 'uid=' '$root/ssh-shell.out'"
timeout 20 ssh "${ssh_opts[@]}" -i "$root/client/sftpa.key" -p "$port" -W "127.0.0.1:$port" "$ua@127.0.0.1" </dev/null >"$root/ssh-fwd.out" 2>&1
check "no TCP forwarding (ssh -W refused)" bash -c "! grep -q '^SSH-2.0' '$root/ssh-fwd.out'"
timeout 20 ssh "${ssh_opts[@]}" -i "$root/client/sftpa.key" -p "$port" -N -o ExitOnForwardFailure=yes \
    -R "127.0.0.1:0:127.0.0.1:$port" "$ua@127.0.0.1" </dev/null >"$root/ssh-rfwd.out" 2>&1
rc=$?
check "no remote forwarding (ssh -R refused, exit $rc)" [ "$rc" != 0 ] && [ "$rc" != 124 ]

cd "$root/client" || finish
printf 'probe one\n' >probe1.txt
printf 'probe two\n' >probe2.txt
printf 'probe private\n' >probe3.txt
chmod 0644 probe1.txt probe2.txt
chmod 0600 probe3.txt
cd / || finish
sftp_as sftpa "$ua" <<EOF
put $root/client/probe1.txt inbox/probe1.txt
put $root/client/probe2.txt inbox/probe2.txt.part
rename inbox/probe2.txt.part inbox/probe2.txt
put $root/client/probe3.txt inbox/probe3.txt
EOF
check "upload with put, and with put .part + rename: sftp exits 0" [ "$sftp_rc" = 0 ] || note "$out"
check "direct upload arrived intact" cmp -s "$root/client/probe1.txt" "$ca/inbox/probe1.txt"
check "renamed upload arrived intact, no .part left" bash -c "cmp -s '$root/client/probe2.txt' '$ca/inbox/probe2.txt' && [ ! -e '$ca/inbox/probe2.txt.part' ]"
check "uploaded file is $ua:$svc 640 (setgid inbox, internal-sftp -u 0027)" [ "$(perm "$ca/inbox/probe1.txt")" = "$ua:$svc 640" ]
check "a client may still upload mode 600 (the SFTP client chooses): $(perm "$ca/inbox/probe3.txt")" [ "$(perm "$ca/inbox/probe3.txt")" = "$ua:$svc 600" ]

sftp_as sftpa "$ua" <<<"put $root/client/probe1.txt outbox/probe1.txt"
check "$PA cannot write into its outbox" eval 'refused && [ ! -e "$ca/outbox/probe1.txt" ]'
sftp_as sftpa "$ua" <<<"put $root/client/probe1.txt probe1.txt"
check "$PA cannot write into its chroot's root" eval 'refused && [ ! -e "$ca/probe1.txt" ]'
sftp_as sftpa "$ua" <<<"symlink inbox/probe1.txt inbox/link"
check "$PA cannot make a symlink (refused by internal-sftp -P)" eval 'refused && [ ! -L "$ca/inbox/link" ]'
sftp_as sftpa "$ua" <<<"ln inbox/probe1.txt inbox/hard"
check "$PA cannot make a hard link" eval 'refused && [ ! -e "$ca/inbox/hard" ]'
sftp_as sftpa "$ua" <<<"mkdir inbox/sub"
check "$PA cannot make a folder" eval 'refused && [ ! -e "$ca/inbox/sub" ]'

# ---- production permissions, as the daemon's user (without the daemon) -------------------------
as_svc() { setpriv --reuid="$svc" --regid="$svc" --init-groups "$@"; }
as_svc_cap() {
    setpriv --reuid="$svc" --regid="$svc" --init-groups \
        --inh-caps=+dac_read_search --ambient-caps=+dac_read_search "$@"
}
install -d -o "$svc" -g "$svc" -m 0750 "$root/data-sim" "$root/data-sim/archive"
check "daemon user reads an upload" as_svc sh -c 'cat "$1" >/dev/null' _ "$ca/inbox/probe1.txt"
check "daemon user moves an upload out of the inbox into its archive" \
    as_svc mv "$ca/inbox/probe1.txt" "$root/data-sim/archive/probe1.txt"
check "daemon user cannot read a mode-600 upload without CAP_DAC_READ_SEARCH" bash -c "! setpriv --reuid='$svc' --regid='$svc' --init-groups cat '$ca/inbox/probe3.txt' >/dev/null 2>&1"
check "  ... and can with CAP_DAC_READ_SEARCH (deploy/aim.service)" as_svc_cap sh -c 'cat "$1" >/dev/null' _ "$ca/inbox/probe3.txt"
# an ack as the daemon writes it: hidden temp name, then rename, umask 0027 (deploy/aim.service)
ack_by_hand() {  # outbox name content
    as_svc sh -c 'umask 0027; printf "%s\n" "$3" >"$1/.$2.tmp" && mv "$1/.$2.tmp" "$1/$2"' _ "$1" "$2" "$3"
}
check "daemon user writes an ack into $PA's outbox (temp + rename)" ack_by_hand "$ca/outbox" hand.ack.xml "<ack for $PA/>"
check "daemon user writes an ack into $PB's outbox" ack_by_hand "$cb/outbox" secret.ack.xml "<ack for $PB/>"
check "ack is $svc:$ua 640 (setgid outbox)" [ "$(perm "$ca/outbox/hand.ack.xml")" = "$svc:$ua 640" ]
rm -rf "$root/client/sftpa.dir"
sftp_as sftpa "$ua" <<<$'get outbox/hand.ack.xml'
check "$PA downloads its ack with sftp get" bash -c "[ \"\$(cat '$root/client/sftpa.dir/hand.ack.xml' 2>/dev/null)\" = '<ack for $PA/>' ]"
sftp_as sftpa "$ua" <<<$'rm outbox/hand.ack.xml'
check "$PA cannot delete from its outbox" eval 'refused && [ -e "$ca/outbox/hand.ack.xml" ]'

# ---- A cannot reach B ---------------------------------------------------------------------------
for path in "/$PB" "../$PB" "../../$PB/outbox" "$cb" "$cb/outbox"; do
    sftp_as sftpa "$ua" <<<"ls $path"
    check "$PA: 'ls $path' fails" refused
done
for path in "/$PB/outbox/secret.ack.xml" "../$PB/outbox/secret.ack.xml" "$cb/outbox/secret.ack.xml"; do
    rm -rf "$root/client/sftpa.dir"
    sftp_as sftpa "$ua" <<<"get $path"
    check "$PA: 'get $path' fails" eval 'refused && [ ! -e "$root/client/sftpa.dir/secret.ack.xml" ]'
done
for path in "/$PB/inbox/evil.txt" "../$PB/inbox/evil.txt" "../../$PB/inbox/evil.txt" "$cb/inbox/evil.txt"; do
    sftp_as sftpa "$ua" <<<"put $root/client/probe2.txt $path"
    check "$PA: 'put ... $path' fails" refused
done
check "nothing from $PA arrived in $PB's inbox" [ -z "$(ls -A "$cb/inbox")" ]
sftp_as sftpa "$ua" <<<"ls -1a .."
check "$PA: '..' of its root is its root ($(listing))" [ "$(listing)" = "../. ../.. ../inbox ../outbox" ]

# key rotation: a second key is added beside the first, then --replace-keys keeps only it
ssh-keygen -q -t ed25519 -N '' -C "aimtest-sftpa-new" -f "$root/client/sftpa2.key"
add_partner --user "$ua" "$PA" "$root/client/sftpa2.key.pub" "$config" >/dev/null 2>&1
check "key rotation: add-partner adds a second key" [ "$(grep -c '^restrict ' "$AIM_KEYS_DIR/$ua")" = 2 ]
sftp_as sftpa2 "$ua" <<<'ls'
check "  ... which logs in" [ "$sftp_rc" = 0 ]
add_partner --user "$ua" --replace-keys "$PA" "$root/client/sftpa2.key.pub" "$config" >/dev/null 2>&1
sftp_as sftpa "$ua" <<<'ls'
check "  --replace-keys: the old key no longer logs in" refused
sftp_as sftpa2 "$ua" <<<'ls'
check "  ... the new one does" [ "$sftp_rc" = 0 ]
add_partner --user "$ua" --replace-keys "$PA" "$root/client/sftpa.key.pub" "$config" >/dev/null 2>&1
sftp_as sftpa "$ua" <<<'ls'
check "  (back to the first key)" [ "$sftp_rc" = 0 ]

check "sshd logs partner logins (Accepted publickey for $ua)" grep -q "Accepted publickey for $ua " "$root/sshd/sshd.log"

# clean up the probes before the daemon sees anything
rm -rf "${ca:?}"/inbox/* "${ca:?}"/outbox/* "${cb:?}"/inbox/* "${cb:?}"/outbox/* "$root/data-sim"
rm -rf "$root/client/"*.dir

# ---------------------------------------------------------------------------------------------
section "daemon: pick-up and acks over SFTP"
if [ "$skip_daemon" = 1 ]; then
    skip "daemon checks (AIM_SKIP_DAEMON=1)"
    finish
fi
if [ ! -x "$AIM_BIN" ]; then
    nok "daemon binary $AIM_BIN exists (build it, set AIM_BIN, or AIM_SKIP_DAEMON=1)"
    finish
fi
sample="$samples/ACMEBRK/valid-single.xml"
[ -r "$sample" ] || { nok "sample $sample readable (set AIM_SAMPLES)"; finish; }

# The samples assume filing day 2026-11-28: shift every YYYY-MM-DD by the days to today (UTC).
today=${AIM_TEST_TODAY:-$(date -u +%F)}
shift_days=$(( ($(date -u -d "$today" +%s) - $(date -u -d 2026-11-28 +%s)) / 86400 ))
make_filing() {  # sender control-number output
    local sedargs=() d i=0
    sedargs+=(-e "s#<SenderId>[^<]*</SenderId>#<SenderId>$1</SenderId>#")
    sedargs+=(-e "s#<ControlNumber>[^<]*</ControlNumber>#<ControlNumber>$2</ControlNumber>#")
    # two passes through placeholders, so a shifted date is never shifted again
    local dates
    mapfile -t dates < <(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$sample" | sort -u)
    for d in "${dates[@]}"; do sedargs+=(-e "s#$d#@@D$i@@#g"); i=$((i + 1)); done
    i=0
    for d in "${dates[@]}"; do sedargs+=(-e "s#@@D$i@@#$(date -u -d "$d $shift_days days" +%F)#g"); i=$((i + 1)); done
    sed "${sedargs[@]}" "$sample" >"$3"
}
f="$root/client/files"
mkdir -p "$f"
make_filing "$PA" 700001 "$f/early.xml"
make_filing "$PA" 700002 "$f/x.xml"
make_filing "$PA" 700003 "$f/y.xml"
make_filing "$PB" 700004 "$f/b.xml"
make_filing "$PB" 700005 "$f/z.xml"       # names B, but goes into A's inbox
make_filing "$PA" 700006 "$f/p.xml"       # uploaded with mode 0600
chmod 0600 "$f/p.xml"
check "filings built (dates shifted by $shift_days days; import date $(grep -o '<ExpectedImportDate>[^<]*' "$f/x.xml" | cut -d'>' -f2))" \
    grep -q "<SenderId>$PA</SenderId>" "$f/x.xml"

# one file waits in the inbox before the daemon starts (startup scan)
sftp_as sftpa "$ua" <<<"put $f/early.xml inbox/early.xml"
check "early.xml uploaded before the daemon starts" [ -f "$ca/inbox/early.xml" ]

# Like deploy/aim.service: the service user, UMask=0027, AmbientCapabilities=CAP_DAC_READ_SEARCH.
# The binary is copied first: the service user may not reach the build folder, and a rebuild
# during the test must not swap it.
install -m 0755 "$AIM_BIN" "$root/aim"
if [ "${AIM_DAEMON_AS_ROOT:-0}" = 1 ]; then
    run_daemon=()
else
    run_daemon=(setpriv --reuid="$svc" --regid="$svc" --init-groups
        --inh-caps=+dac_read_search --ambient-caps=+dac_read_search --)
    chown "$svc:$svc" "$root/data"
    chmod 0750 "$root/data"
fi
start_daemon() {
    (cd "$root" && umask 0027 &&
        exec ${run_daemon[@]+"${run_daemon[@]}"} "$root/aim" daemon --config "$config") >>"$root/daemon.log" 2>&1 &
    daemon_pid=$!
    sleep 1
    kill -0 "$daemon_pid" 2>/dev/null
}
stop_daemon() {  # SIGTERM, wait; sets daemon_rc
    daemon_rc=""
    kill -TERM "$daemon_pid" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$daemon_pid" 2>/dev/null; then daemon_rc=timeout; kill -KILL "$daemon_pid"; fi
    wait "$daemon_pid" 2>/dev/null
    local rc=$?
    [ -n "$daemon_rc" ] || daemon_rc=$rc
    daemon_pid=""
}
daemon_tail() { note "daemon log (last lines):"; tail -n 20 "$root/daemon.log" | sed 's/^/#        /'; }

if ! start_daemon; then
    nok "daemon starts: $AIM_BIN daemon --config $config"
    daemon_tail
    finish
fi
ok "daemon started (pid $daemon_pid, user $(ps -o user= -p "$daemon_pid"))"

# The console socket matters for deployment (staff reach it through group aim-staff, see
# docs/deploy.md); checked once the binary has a console.
if "$root/aim" --help 2>/dev/null | grep -qE '^ +console'; then
    for _ in $(seq 100); do [ -S "$root/data/aim.sock" ] && break; sleep 0.1; done
    check "control socket <data>/aim.sock exists with mode 0660" [ "$(stat -c %a "$root/data/aim.sock" 2>/dev/null)" = 660 ]
else
    skip "control socket check (this aim has no console command yet)"
fi

sftp_as sftpa "$ua" <<<"put $f/x.xml inbox/x.xml"
check "x.xml uploaded directly" [ "$sftp_rc" = 0 ]
sftp_as sftpa "$ua" <<<"put $f/y.xml inbox/y.xml.part"
sleep 2     # well past settle_ms: an in-progress name must be left alone
check "y.xml.part is left in the inbox while it has that name" [ -f "$ca/inbox/y.xml.part" ]
check "  ... and gets no ack" [ -z "$(find "$ca/outbox" -name 'y*')" ]
sftp_as sftpa "$ua" <<<"rename inbox/y.xml.part inbox/y.xml"
check "y.xml.part renamed to y.xml over sftp" [ "$sftp_rc" = 0 ]
sftp_as sftpb "$ub" <<<"put $f/b.xml inbox/b.xml"
check "b.xml uploaded by $PB" [ "$sftp_rc" = 0 ]
sftp_as sftpa "$ua" <<<"put $f/z.xml inbox/z.xml"
check "z.xml (SenderId $PB) uploaded by $PA into $PA's inbox" [ "$sftp_rc" = 0 ]
sftp_as sftpa "$ua" <<<"put $f/p.xml inbox/p.xml"
check "p.xml uploaded (local mode 0600: sftp put asks for the same mode)" [ "$sftp_rc" = 0 ]

wait_for() {  # files...   (bounded by ack_timeout from the first call on)
    local f
    while :; do
        local all=1
        for f in "$@"; do [ -f "$f" ] || all=0; done
        [ "$all" = 1 ] && return 0
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.25
    done
}
deadline=$(($(date +%s) + ack_timeout))
if wait_for "$ca/outbox/early.ack.xml" "$ca/outbox/x.ack.xml" "$ca/outbox/y.ack.xml" "$ca/outbox/z.ack.xml" "$ca/outbox/p.ack.xml" "$cb/outbox/b.ack.xml"; then
    ok "all six acks appeared within ${ack_timeout}s"
else
    nok "all six acks appeared within ${ack_timeout}s (outbox $PA: $(ls -A "$ca/outbox" | tr '\n' ' '); outbox $PB: $(ls -A "$cb/outbox" | tr '\n' ' '))"
    daemon_tail
fi

rm -rf "$root/client/sftpa.dir" "$root/client/sftpb.dir"
sftp_as sftpa "$ua" <<<$'-get outbox/early.ack.xml\n-get outbox/x.ack.xml\n-get outbox/y.ack.xml\n-get outbox/z.ack.xml\n-get outbox/p.ack.xml'
sftp_as sftpb "$ub" <<<$'-get outbox/b.ack.xml'
da="$root/client/sftpa.dir"
db="$root/client/sftpb.dir"

xml_ok() { ! command -v python3 >/dev/null || python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$1" 2>/dev/null; }
elem() { grep -oE "<$2>[^<]*</$2>" "$1" 2>/dev/null | head -n1 | sed -E "s#</?$2>##g; s/^[[:space:]]+|[[:space:]]+\$//g"; }
declare -A lic
for pair in "$da:early" "$da:x" "$da:y" "$da:p" "$db:b"; do
    dir=${pair%%:*}; stem=${pair#*:}
    a="$dir/$stem.ack.xml"
    if [ ! -f "$a" ]; then nok "$stem.ack.xml downloaded over sftp"; continue; fi
    ok "$stem.ack.xml downloaded over sftp"
    check "  $stem.ack.xml is well-formed XML in urn:aim:ack:1" eval 'grep -q "urn:aim:ack:1" "$a" && xml_ok "$a"'
    check "  $stem.ack.xml: Status accepted ($(elem "$a" Status))" [ "$(elem "$a" Status)" = accepted ]
    check "  $stem.ack.xml: FileName $stem.xml" [ "$(elem "$a" FileName)" = "$stem.xml" ]
    lic[$stem]=$(elem "$a" LicenseNumber)
    check "  $stem.ack.xml: LicenseNumber ${lic[$stem]:-missing}" bash -c "[[ '${lic[$stem]}' =~ ^AIM-[0-9]{4}-[0-9]{7}-[0-9]$ ]]"
done
a="$da/z.ack.xml"
if [ -f "$a" ]; then
    ok "z.ack.xml (the file naming $PB) answered in $PA's outbox"
    check "  z.ack.xml: Status rejected" [ "$(elem "$a" Status)" = rejected ]
    check "  z.ack.xml: error F004" grep -q 'code="F004"' "$a"
    check "  z.ack.xml: no LicenseNumber" bash -c "! grep -q '<LicenseNumber>' '$a'"
else
    nok "z.ack.xml (the file naming $PB) answered in $PA's outbox"
fi
check "$PB's outbox holds only b.ack.xml ($(ls -A "$cb/outbox" | tr '\n' ' '))" [ "$(ls -A "$cb/outbox")" = "b.ack.xml" ]
check "the daemon's acks have the partner's group and mode 640 ($(stat -c '%U:%G %a' "$ca/outbox/x.ack.xml" 2>/dev/null))" \
    eval '[ "$(stat -c "%G %a" "$ca/outbox/x.ack.xml")" = "$ua 640" ] && [ "$(stat -c "%G %a" "$cb/outbox/b.ack.xml")" = "$ub 640" ]'
check "no hidden temporary files left in the outboxes" [ -z "$(find "$ca/outbox" "$cb/outbox" -name '.*' -type f)" ]
check "inboxes are empty (picked-up files moved out)" [ -z "$(find "$ca/inbox" "$cb/inbox" -mindepth 1 2>/dev/null)" ]
archived=$(find "$root/data" -type f -exec sha256sum {} + 2>/dev/null | cut -d' ' -f1 | sort -u)
for stem in early x y z p b; do
    h=$(sha256sum <"$f/$stem.xml" | cut -d' ' -f1)
    check "original bytes of $stem.xml kept under <data>" grep -qx "$h" <<<"$archived"
done

# A plain SFTP v3 rename: `rename -l` makes OpenSSH's sftp send SSH2_FXP_RENAME instead of its
# posix-rename@openssh.com extension, and OpenSSH's sftp-server carries that out as link(2) +
# unlink(2): no close and no moved-to event ever names v.xml. It must be answered within the
# settle time (300 ms here), not only after a restart.
make_filing "$PA" 700007 "$f/v.xml"
sftp_as sftpa "$ua" <<<"put $f/v.xml inbox/v.xml.part"
check "v.xml.part uploaded" [ "$sftp_rc" = 0 ]
sftp_as sftpa "$ua" -vvv <<<"rename -l inbox/v.xml.part inbox/v.xml"
check "v.xml.part renamed to v.xml with the SFTP v3 rename (SSH2_FXP_RENAME)" \
    eval '[ "$sftp_rc" = 0 ] && grep -q "Sending SSH2_FXP_RENAME" <<<"$out" && ! grep -q "posix-rename@openssh.com\" \"" <<<"$out"' ||
    note "$(grep -i rename <<<"$out" | head -n 5)"
deadline=$(($(date +%s) + 5))
if wait_for "$ca/outbox/v.ack.xml"; then
    ok "v.xml (renamed by link + unlink) answered within 5 s"
    check "  v.ack.xml: Status accepted" [ "$(elem "$ca/outbox/v.ack.xml" Status)" = accepted ]
else
    nok "v.xml (renamed by link + unlink) answered within 5 s (outbox: $(ls -A "$ca/outbox" | tr '\n' ' '))"
    daemon_tail
fi

stop_daemon
check "daemon exits 0 on SIGTERM (got $daemon_rc)" [ "$daemon_rc" = 0 ] || daemon_tail

# ---------------------------------------------------------------------------------------------
section "backup and restore of the data folder (scripts/backup.sh, scripts/restore.sh)"
bk=$("$repo/scripts/backup.sh" --no-service --data "$root/data" --out "$root/backups" 2>"$root/backup.err" | tail -n1)
check "backup.sh of the stopped daemon's data folder" [ -f "$bk" ] || cat "$root/backup.err"
mv "$root/data" "$root/data.lost"          # the disk dies
mkdir -p "$root/data"
"$repo/scripts/restore.sh" --no-service --data "$root/data" "$bk" 2>"$root/restore.err"
check "restore.sh into a fresh data folder" [ $? = 0 ] || cat "$root/restore.err"
rm -rf "$root/data.lost" "$root"/data.pre-restore-*
if start_daemon; then
    ok "daemon starts on the restored data folder"
    "$repo/scripts/backup.sh" --no-service --data "$root/data" --out "$root/backups2" >/dev/null 2>"$root/backup2.err"
    rc=$?
    check "backup.sh refuses while the daemon has the data folder open" \
        eval '[ "$rc" != 0 ] && grep -q "process $daemon_pid " "$root/backup2.err" && [ -z "$(find "$root/backups2" -name "*.tar.gz" 2>/dev/null)" ]'
    # identical bytes again: the daemon must know them (same license, no second one)
    sftp_as sftpa "$ua" <<<"put $f/x.xml inbox/x-again.xml"
    deadline=$(($(date +%s) + ack_timeout))
    wait_for "$ca/outbox/x-again.ack.xml"
    rm -rf "$da"
    sftp_as sftpa "$ua" <<<"get outbox/x-again.ack.xml"
    again=$(elem "$da/x-again.ack.xml" LicenseNumber)
    check "after restore, a re-sent x.xml gets x's license again (${again:-no ack}), not a new one" \
        [ -n "$again" ] && [ "$again" = "${lic[x]:-}" ]
    stop_daemon
    check "daemon exits 0 on SIGTERM after restore (got $daemon_rc)" [ "$daemon_rc" = 0 ] || daemon_tail
else
    nok "daemon starts on the restored data folder"
    daemon_tail
fi

finish
