#!/usr/bin/env bash
# Creates ./venv with the pinned dependencies and the project installed editable (the
# dynamic-provider process imports `components` by name). Safe to run again: it only
# installs what changed. Usage: bash scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=requirements.txt
if [[ "${1:-}" == "--dev" ]]; then
  requirements=requirements-dev.txt
fi

if [[ ! -x venv/bin/python ]]; then
  python3 -m venv venv
fi
stamp="venv/.installed-$(cat "$requirements" requirements.txt pyproject.toml | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  venv/bin/python -m pip install --quiet --upgrade pip
  venv/bin/python -m pip install --quiet -r "$requirements"
  venv/bin/python -m pip install --quiet --no-deps -e .
  touch "$stamp"
fi
