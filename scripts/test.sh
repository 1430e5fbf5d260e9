#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check and test.
#
#   scripts/test.sh
#
# Installs (idempotently): a Python virtualenv in .venv with moto's server (the local AWS emulator the AWS
# adapters are contract-tested against) and the other pinned Python tools in scripts/requirements-*.txt.
# Runs: rustfmt check, clippy (warnings are errors), and `cargo test` over the whole workspace.
# Honours CARGO_TARGET_DIR (CI may point it at a persistent cache folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
step() { printf '\n==> %s\n' "$*"; }

step "Python tools into .venv"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
shopt -s nullglob
reqs=(scripts/requirements-*.txt)
if [ ${#reqs[@]} -gt 0 ]; then
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  .venv/bin/pip install --quiet --disable-pip-version-check "${args[@]}"
fi
export LEDGERLINK_MOTO_SERVER="$root/.venv/bin/moto_server"

step "Formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "Lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Tests (cargo test --workspace)"
cargo test --workspace --no-fail-fast
