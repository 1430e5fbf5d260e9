#!/usr/bin/env bash
# Browser test of the operator page: installs the pinned npm deps, makes sure chromium exists, builds and
# starts the Rust fixture (the real router over a seeded embedded store on 127.0.0.1:<free port>), runs the
# Playwright test against it and stops the fixture; then starts the local stack itself and runs the export
# and fix tests (exports.mjs, fix.mjs) against the page link the stack prints. Exit code: the tests'.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
chromium="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$chromium" ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update >/dev/null && apt-get install -y chromium >/dev/null
  else
    echo "chromium is missing at $chromium and this user cannot install it" >&2
    exit 1
  fi
fi

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

(cd "$repo" && cargo build -p ledgerlink-api --features local --example browser_fixture)
fixture_bin="$CARGO_TARGET_DIR/debug/examples/browser_fixture"

out="$(mktemp)"
"$fixture_bin" >"$out" &
fixture_pid=$!
cleanup() {
  kill "$fixture_pid" 2>/dev/null || true
  wait "$fixture_pid" 2>/dev/null || true
  rm -f "$out"
}
trap cleanup EXIT

for _ in $(seq 1 900); do
  grep -q '^CONFLICT_KEY=' "$out" && break
  if ! kill -0 "$fixture_pid" 2>/dev/null; then
    echo "the fixture exited early" >&2
    exit 1
  fi
  sleep 0.2
done
grep -q '^CONFLICT_KEY=' "$out" || { echo "the fixture did not start" >&2; exit 1; }

BASE_URL="$(sed -n 's/^BASE_URL=//p' "$out")"
API_KEY="$(sed -n 's/^API_KEY=//p' "$out")"
FORCE_KEY="$(sed -n 's/^FORCE_KEY=//p' "$out")"
CONFLICT_KEY="$(sed -n 's/^CONFLICT_KEY=//p' "$out")"
export BASE_URL API_KEY FORCE_KEY CONFLICT_KEY CHROMIUM="$chromium"

node "$here/test.mjs"

# The export job as a new user meets it: the real local stack (its demo data, its first round and export),
# opened from the link it prints.
(cd "$repo" && cargo build -p ledgerlink)
stack_dir="$(mktemp -d)"
stack_out="$(mktemp)"
"$CARGO_TARGET_DIR/debug/ledgerlink" --port 0 --interval-secs 3600 --data-dir "$stack_dir/data" >"$stack_out" 2>&1 &
stack_pid=$!
cleanup_stack() {
  kill -INT "$stack_pid" 2>/dev/null || true
  wait "$stack_pid" 2>/dev/null || true
  rm -rf "$stack_dir" "$stack_out"
  cleanup
}
trap cleanup_stack EXIT
for _ in $(seq 1 900); do
  grep -q '^Next round in' "$stack_out" && break
  if ! kill -0 "$stack_pid" 2>/dev/null; then
    echo "the local stack exited early:" >&2
    cat "$stack_out" >&2
    exit 1
  fi
  sleep 0.2
done
grep -q '^Next round in' "$stack_out" || { echo "the local stack's first round did not finish" >&2; exit 1; }
STACK_URL="$(sed -n 's/^  Operator page *//p' "$stack_out" | head -n1)"
export STACK_URL

node "$here/exports.mjs"
# The user who has to fix things: the demo's first-round error with a lookup fix, applied from the page, the
# object synced again; lookup import/export; axe-core on every tab at 1280x800 and 768x1024.
node "$here/fix.mjs"
