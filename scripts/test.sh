#!/usr/bin/env bash
# Set up (idempotent) and run the test suite: README command (2), also run by .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${SSEFT_VENV:-.venv}"
bash scripts/setup.sh || exit $?
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
# One heading per stage, so a long silent one (mypy: a minute or two) says what it is.
echo "== ruff check (lint)"
"$VENV/bin/ruff" check -q . || exit $?
echo "== ruff format --check"
"$VENV/bin/ruff" format --check -q . || exit $?
echo "== mypy (type check, 1-2 min)"
bash scripts/typecheck.sh || exit $?
echo "== pytest $*"
"$VENV/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests (exit 5): check the arguments you passed" >&2
fi
exit "$rc"
