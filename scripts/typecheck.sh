#!/usr/bin/env bash
# mypy over the installed layout: the repo's folders map to sseft.* (pyproject [tool.setuptools]
# package-dir), which mypy cannot follow by itself, so mirror that mapping with symlinks in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(cd "${SSEFT_VENV:-.venv}" && pwd)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/sseft"
for f in sseft/*; do ln -s "$PWD/$f" "$tmp/sseft/"; done
ln -s "$PWD/core" "$tmp/sseft/core"; ln -s "$PWD/plugins" "$tmp/sseft/plugins"; ln -s "$PWD/registry" "$tmp/sseft/registry"
cd "$tmp" && "$VENV/bin/mypy" --config-file "$OLDPWD/pyproject.toml" -p sseft "$@"
