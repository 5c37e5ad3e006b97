#!/usr/bin/env bash
# The whole test run, as CI runs it: system packages, venv, lint, types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh
bash scripts/setup.sh --dev

venv/bin/ruff check .
venv/bin/mypy
# The engine tests drive the real Pulumi CLI: an installed one, or one built from Pulumi's Go
# modules into .pulumi-cli/ (minutes the first time on a machine, seconds after).
cli_bin="$(bash scripts/pulumi-cli.sh)"
export PATH="$cli_bin:$PATH"
# pytest exits 5 when it collects no tests: that is a failure here too.
venv/bin/python -m pytest "$@"
