#!/usr/bin/env bash
# Runs the attacks of the security issues (12: findings 1-9; 19: credentials to another host) against a
# freshly started local stack, over HTTP, as the holder of the demo tenant's API key would.
#
#   scripts/attack.sh
#
# The stack: the release binary when it is already built ($CARGO_TARGET_DIR/release/ledgerlink), otherwise
# the dev-profile binary (`cargo build --bin ledgerlink`: same code, and a warm dev build takes seconds where
# a cold release build takes many minutes). It runs on a temporary data directory, on 127.0.0.1 with a free
# port (--port 0), and is stopped at the end. Its link `…/#key=llk_…` gives the API URL and key.
# The attacks are in scripts/attack.py (Python standard library only). The LAST line printed is
#   attacks: tried=N refused=N service_up=yes|no
# Exit status 0 only when every attack was refused and the service stayed up.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

bin="$CARGO_TARGET_DIR/release/ledgerlink"
if [ ! -x "$bin" ]; then
  cargo build --quiet --bin ledgerlink
  bin="$CARGO_TARGET_DIR/debug/ledgerlink"
fi

data=$(mktemp -d)
out="$data/stack.out"
"$bin" --data-dir "$data/state" --port 0 --interval-secs 3600 >"$out" 2>&1 &
pid=$!
stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data"
}
trap stop EXIT

link=""
for _ in $(seq 1 240); do
  link=$(grep -o 'http://127\.0\.0\.1:[0-9]*/#key=llk_[A-Za-z0-9_]*' "$out" | head -n1 || true)
  [ -n "$link" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$out" >&2
    echo "attacks: tried=0 refused=0 service_up=no"
    exit 1
  fi
  sleep 0.5
done
if [ -z "$link" ]; then
  cat "$out" >&2
  echo "attacks: tried=0 refused=0 service_up=no"
  exit 1
fi
base="${link%%/#key=*}"
key="${link#*#key=}"
echo "Local stack at $base (pid $pid, $(basename "$(dirname "$bin")") build)"

status=0
python3 scripts/attack.py "$base" "$key" || status=$?
if ! kill -0 "$pid" 2>/dev/null; then
  echo "the local stack process is gone:" >&2
  tail -n 20 "$out" >&2
fi
exit "$status"
