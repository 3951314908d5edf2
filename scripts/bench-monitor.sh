#!/usr/bin/env bash
# Publish and export over N licenses: bash bench-monitor.sh AIM FILES APPS_PER_FILE
set -euo pipefail
aim="$1"; files="$2"; apps="$3"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/inbox/ACMEBRK" "$work/outbox"
cat > "$work/aim.toml" <<TOML
inbox = "$work/inbox"
outbox = "$work/outbox"
data = "$work/var"
[intake]
settle_ms = 50
[monitor]
publish_dir = "$work/public"
publish_weekday = ""
[[partner]]
id = "ACMEBRK"
name = "Acme"
emails = ["a@acme.example"]
TOML
"$aim" gen --sender ACMEBRK --count "$files" --apps-per-file "$apps" --seed 3 --out "$work/inbox/ACMEBRK" >/dev/null
"$aim" daemon --config "$work/aim.toml" 2>/dev/null & pid=$!
n=0
for _ in $(seq 1 6000); do
  n=$( (ls "$work/outbox/ACMEBRK" 2>/dev/null || true) | grep -c '\.ack\.xml$' || true)
  [ "$n" -ge "$files" ] && break; sleep 0.1
done
kill "$pid"; wait "$pid" || true
echo "licenses: $((files*apps)), cells: $("$aim" monitor export --config "$work/aim.toml" | tail -n +2 | wc -l), (D): $("$aim" monitor export --config "$work/aim.toml" | grep -c '(D)' || true)"
for i in 1 2 3; do
  /usr/bin/time -f "export  %e s  %M KiB" "$aim" monitor export --config "$work/aim.toml" >/dev/null
  sleep 1.1
  /usr/bin/time -f "publish %e s  %M KiB" "$aim" monitor publish --config "$work/aim.toml" >/dev/null
done
du -sh "$work/public/current/" | cut -f1
