#!/bin/bash
# `systemd-analyze verify` on deploy/aim.service, as installed but with ExecStart pointing at the
# binary just built (verify checks that the command exists and is executable). A warning counts
# as a failure: verify exits 0 on an unknown key, which it only prints. To show the check can
# fail, a copy with a misspelt key and one with a missing binary must be refused.
# Prints "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${AIM_BIN:-$repo/target/release/aim}
unit="$repo/deploy/aim.service"
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $*"; }
nok() { fail=$((fail + 1)); echo "FAIL - $*"; }

command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (apt-get install systemd)"; echo "0 passed, 1 failed"; exit 1; }
[ -x "$bin" ] || { echo "no binary at $bin (cargo build --release)"; echo "0 passed, 1 failed"; exit 1; }

tmp=$(mktemp -d /tmp/aim-unit-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# verify names the unit by its file name: keep it aim.service, one folder per variant.
variant() {
    mkdir -p "$tmp/$1"
    sed "s#/usr/local/bin/aim#$2#g" "$unit" >"$tmp/$1/aim.service"
    echo "$tmp/$1/aim.service"
}

# Lines of verify's output about this unit (other units of the machine may warn on their own).
about_unit() { grep -F "aim.service" || true; }

good=$(variant good "$bin")
out=$(systemd-analyze verify "$good" 2>&1)
rc=$?
mine=$(printf '%s\n' "$out" | about_unit)
if [ "$rc" -eq 0 ] && [ -z "$mine" ]; then
    ok "systemd-analyze verify accepts deploy/aim.service without a warning"
else
    nok "systemd-analyze verify (exit $rc): $out"
fi

for want in "Type=notify" "NotifyAccess=main" "WatchdogSec=30"; do
    if grep -qx "$want" "$unit"; then ok "unit has $want"; else nok "unit lacks $want"; fi
done

bad=$(variant misspelt "$bin")
sed -i 's/^WatchdogSec=30$/WatchdogSecs=30/' "$bad"
out=$(systemd-analyze verify "$bad" 2>&1)
if printf '%s\n' "$out" | about_unit | grep -q "WatchdogSecs"; then
    ok "a misspelt key is reported"
else
    nok "a misspelt key went unnoticed: $out"
fi

missing=$(variant missing "$tmp/no-such-aim")
out=$(systemd-analyze verify "$missing" 2>&1)
rc=$?
if [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q "no-such-aim"; then
    ok "a missing binary is refused"
else
    nok "a missing binary went unnoticed (exit $rc): $out"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
