"""Runs checkov on template.yaml and fails on any failed check that infra/checkov-suppressions.yaml does not
list (with its reason) for that resource, and on a listed suppression that no longer fails.

    .venv-checkov/bin/python scripts/checkov-gate.py [template.yaml] [infra/checkov-suppressions.yaml]

Last line: `checkov: passed=N failed=N suppressed=N unlisted=N stale=N`.
"""

import json
import pathlib
import subprocess
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_suppressions(path):
    document = yaml.safe_load(path.read_text()) or {}
    accepted = {}
    for entry in document.get("suppressions", []):
        check, reason = entry.get("check"), (entry.get("reason") or "").strip()
        if not check or len(reason) < 40:
            sys.exit(f"{path}: every suppression needs a check id and its reason ({entry!r})")
        for resource in entry.get("resources", []):
            accepted[(check, resource)] = reason
    return accepted


def run_checkov(template):
    checkov = pathlib.Path(sys.executable).with_name("checkov")
    done = subprocess.run(
        [str(checkov), "-f", str(template), "--framework", "cloudformation", "--skip-download",
         "--output", "json", "--soft-fail"],
        capture_output=True, text=True, check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.exit(f"checkov did not report (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    passed, failed = 0, set()
    for r in reports:
        if r.get("summary", {}).get("parsing_errors"):
            sys.exit(f"checkov could not parse {template}: {r['summary']}")
        passed += r.get("summary", {}).get("passed", 0)
        failed |= {(c["check_id"], c["resource"]) for c in r.get("results", {}).get("failed_checks", [])}
    return passed, failed


def main():
    template = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "template.yaml"
    listed = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "infra/checkov-suppressions.yaml"
    accepted = load_suppressions(listed)
    passed, failed = run_checkov(template)
    unlisted = sorted(failed - set(accepted))
    stale = sorted(set(accepted) - failed)
    for check, resource in unlisted:
        print(f"FAILED, not suppressed: {check} {resource}")
    for check, resource in stale:
        print(f"suppressed but no longer failing (remove it from {listed.name}): {check} {resource}")
    print(
        f"checkov: passed={passed} failed={len(failed)} suppressed={len(failed & set(accepted))} "
        f"unlisted={len(unlisted)} stale={len(stale)}"
    )
    return 1 if unlisted or stale else 0


if __name__ == "__main__":
    sys.exit(main())
