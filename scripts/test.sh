#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check and test.
#
#   scripts/test.sh
#
# Installs (idempotently): a Python virtualenv in .venv with moto's server (the local AWS emulator the AWS
# adapters are contract-tested against) and the other pinned Python tools in scripts/requirements-*.txt.
# Also a second virtualenv, .venv-infra, with the SAM CLI and cfn-lint for the template, and a third,
# .venv-checkov, with checkov (its boto3 pins conflict with the SAM CLI's).
# Runs: sam validate --lint, cfn-lint, the grant checks (tests/infra) and checkov (every failed check
# suppressed with its reason in infra/checkov-suppressions.yaml) on template.yaml, rustfmt check, clippy (warnings are errors),
# `cargo test` over the whole workspace, the attack script (scripts/attack.sh: the security issues' attacks
# over HTTP against a freshly started local stack), and the browser test of the operator page (tests/browser/run.sh,
# which installs playwright-core from npm and Debian's chromium when missing).
# Honours CARGO_TARGET_DIR (CI may point it at a persistent cache folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
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

step "Infrastructure tools into .venv-infra (SAM CLI and cfn-lint pin their own boto versions)"
if [ ! -x .venv-infra/bin/python ]; then
  python3 -m venv .venv-infra
fi
.venv-infra/bin/pip install --quiet --disable-pip-version-check -r scripts/infra-requirements.txt

step "SAM template (sam validate --lint, cfn-lint, per-function grants)"
SAM_CLI_TELEMETRY=0 .venv-infra/bin/sam validate --lint --template template.yaml
.venv-infra/bin/cfn-lint template.yaml
# Each function role grants exactly what the function's code uses (tests/infra/test_template.py).
.venv-infra/bin/python -m unittest discover -s tests/infra

step "checkov on the SAM template (failures must be listed with a reason in infra/checkov-suppressions.yaml)"
if [ ! -x .venv-checkov/bin/python ]; then
  python3 -m venv .venv-checkov
fi
.venv-checkov/bin/pip install --quiet --disable-pip-version-check -r scripts/checkov-requirements.txt
.venv-checkov/bin/python scripts/checkov-gate.py template.yaml infra/checkov-suppressions.yaml

step "Formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "Lints (cargo clippy, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "Tests (cargo test --workspace)"
cargo test --workspace --no-fail-fast

step "Attacks of the security issues against a running local stack (scripts/attack.sh, ~30 s)"
scripts/attack.sh

step "Browser test of the operator page (playwright-core + Debian chromium)"
tests/browser/run.sh
