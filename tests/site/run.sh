#!/usr/bin/env bash
# The published monitor in headless Chromium (tests/site/check.mjs): a real data set filed
# through the real daemon (`aim gen`, 40 files), published with `aim monitor publish` through
# the control socket, then every page opened at 360 and 1280 px.
# Needs: AIM_BIN (the binary), chromium, node and npm (scripts/test.sh installs them).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
aim="${AIM_BIN:-$repo/target/release/aim}"
chromium="${CHROMIUM:-$(command -v chromium || true)}"
[ -x "$chromium" ] || { echo "no chromium (apt-get install chromium)" >&2; exit 2; }
shots="${SITE_SHOTS:-$repo/target/site-screenshots}"

# The driver and the rules, from the npm registry; the browser is Debian's, never downloaded.
if [ ! -d "$here/node_modules/puppeteer-core" ] || [ ! -d "$here/node_modules/axe-core" ]; then
  (cd "$here" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-save --no-audit --no-fund --loglevel=error \
    puppeteer-core@24.43.1 axe-core@4.11.4)
fi

work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/inbox/ACMEBRK" "$work/outbox"
cat > "$work/aim.toml" <<TOML
inbox = "$work/inbox"
outbox = "$work/outbox"
data = "$work/var"
[intake]
settle_ms = 100
[monitor]
publish_dir = "$work/public"
publish_weekday = ""
[[partner]]
id = "ACMEBRK"
name = "Acme Customs Brokerage LLC"
emails = ["filings@acme.example"]
[[staff]]
user = "$(id -un)"
role = "supervisor"
TOML
"$aim" gen --sender ACMEBRK --count 40 --apps-per-file 3 --seed 11 --out "$work/inbox/ACMEBRK" >/dev/null
"$aim" daemon --config "$work/aim.toml" 2>"$work/daemon.log" &
pid=$!
n=0
for _ in $(seq 1 600); do
  n=$( (ls "$work/outbox/ACMEBRK" 2>/dev/null || true) | grep -c '\.ack\.xml$' || true)
  [ "$n" -ge 40 ] && break
  kill -0 "$pid" || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
[ "$n" -ge 40 ] || { echo "only $n of 40 acks" >&2; exit 1; }
"$aim" monitor publish --config "$work/aim.toml"
sleep 1.1   # a second vintage, so that the publications page lists two
"$aim" monitor publish --config "$work/aim.toml"
"$aim" monitor export --config "$work/aim.toml" | cmp - "$work/public/current/data/monitor.csv"
kill "$pid"; wait "$pid" || true; pid=""
rm -rf "$shots"
node "$here/check.mjs" "$work/public/current" "$shots" "$chromium"
