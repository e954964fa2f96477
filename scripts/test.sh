#!/usr/bin/env bash
# Set up (idempotent) and run the test suite: README command (2), also run by .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit $?
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1
.venv/bin/ruff check . || exit $?
.venv/bin/ruff format --check . || exit $?
bash scripts/typecheck.sh || exit $?
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests (exit 5): check the arguments you passed" >&2
fi
exit "$rc"
