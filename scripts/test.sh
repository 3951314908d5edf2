#!/usr/bin/env bash
# The whole test suite, as CI runs it (`bash .ci/run`): installs what the tests need on a
# fresh Debian machine (run as root), then runs every test layer.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v xmllint >/dev/null || need_apt+=(libxml2-utils)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v sftp >/dev/null || need_apt+=(openssh-client)
command -v tmux >/dev/null || need_apt+=(tmux)
command -v flock >/dev/null || need_apt+=(util-linux)   # a staff command's look at the lock in tests/hardening.rs
command -v script >/dev/null || need_apt+=(bsdutils)   # a terminal for `aim` alone in tests/hardening.rs
command -v openssl >/dev/null || need_apt+=(openssl)   # test certificates for the SMTP TLS tests
command -v systemd-analyze >/dev/null || need_apt+=(systemd)   # verify deploy/aim.service
# The SMTP test server (tests/support/smtp_server.py) runs on Debian's own Python with Debian's
# aiosmtpd: never pip into the system Python (PEP 668 refuses it). tests/mail.rs prefers
# /usr/bin/python3 when it has aiosmtpd (AIM_TEST_PYTHON overrides).
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need_apt+=(python3-aiosmtpd)
# The published monitor in a real browser (tests/site): Debian's Chromium and Node.js.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing packages: ${need_apt[*]} (run as root, or install them)" >&2
    exit 2
  fi
fi

# A one-off build: incremental state would only take disk (the build and the tests' folders
# must fit on a small CI disk; the free space is shown before and after the build).
export CARGO_INCREMENTAL=0
free_space() { df -h --output=avail,target . "${TMPDIR:-/tmp}" | sed 's/^/   /'; }
echo "== free space before the build"; free_space

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings

echo "== unit, integration and end-to-end tests"
cargo build --release
cargo test --all-targets --no-run
echo "== free space after the build"; free_space
cargo test --all-targets

echo "== the published monitor in headless Chromium (axe-core WCAG 2.1 AA, 360 and 1280 px)"
AIM_BIN="$PWD/target/release/aim" bash tests/site/run.sh

echo "== SFTP drop-off end to end (real sshd)"
AIM_BIN="$PWD/target/release/aim" bash tests/sftp/run.sh

echo "== backup and restore of the data folder"
bash tests/deploy/backup-restore.sh

echo "== the systemd unit (systemd-analyze verify)"
AIM_BIN="$PWD/target/release/aim" bash tests/deploy/verify-unit.sh
