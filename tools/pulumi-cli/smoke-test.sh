#!/usr/bin/env bash
# Smoke test of the Pulumi CLI that scripts/pulumi-cli.sh provides, on a throw-away file backend.
#
# Usage: bash tools/pulumi-cli/smoke-test.sh [VENV]     (VENV defaults to <repo>/venv; it needs `pulumi`)
#
# In a temporary folder it makes a tiny project (`main: prog/`) whose program defines a Python dynamic
# resource whose provider class lives in an importable module (on PYTHONPATH), then runs
#   pulumi stack init / preview / up --yes / preview --expect-no-changes / destroy --yes
# twice: with `virtualenv: <absolute VENV>` and with a relative `virtualenv: venv` (a symlink to VENV in
# the project), which proves the dynamic-provider launcher resolves the virtualenv against the project
# root although the engine starts it in prog/. Nothing outside the temporary folder is touched; the
# update check, telemetry and plugin downloads are off. Exits non-zero on the first failing step.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
venv=$(cd "${1:-$repo/venv}" && pwd) || { echo "smoke-test: no virtualenv at ${1:-$repo/venv}" >&2; exit 1; }
[ -x "$venv/bin/python" ] || { echo "smoke-test: $venv is not a virtualenv" >&2; exit 1; }

bindir=$(bash "$repo/scripts/pulumi-cli.sh")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export PATH="$bindir:$PATH"
export PULUMI_HOME="$tmp/home"
export PULUMI_BACKEND_URL="file://$tmp/state"
export PULUMI_CONFIG_PASSPHRASE=test
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export PULUMI_TELEMETRY_DISABLED=true PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true
export PYTHONPATH="$tmp/lib${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$tmp/state" "$tmp/lib"

cat >"$tmp/lib/smoke_provider.py" <<'EOF'
"""A tiny dynamic provider in an importable module, so the provider process can unpickle it."""
from typing import Any, Optional

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult


class EchoProvider(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="echo-" + props["message"], outs={**props, "length": len(props["message"])})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("message") != news.get("message"))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, "length": len(news["message"])})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class Echo(Resource):
    length: pulumi.Output[int]

    def __init__(self, name: str, message: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(EchoProvider(), name, {"message": message, "length": None}, opts)
EOF

make_project() { # DIR VIRTUALENV
    mkdir -p "$1/prog"
    cat >"$1/Pulumi.yaml" <<EOF
name: smoke
main: prog/
runtime:
  name: python
  options:
    toolchain: pip
    virtualenv: $2
EOF
    cat >"$1/prog/__main__.py" <<'EOF'
import pulumi
import smoke_provider

config = pulumi.Config()
echo = smoke_provider.Echo("echo", config.get("message") or "hello")
pulumi.export("length", echo.length)
token = config.get_secret("token") or pulumi.Output.secret("")
pulumi.export("tokenLength", token.apply(len))
EOF
}

step() { echo "--- $*"; "$@"; }

run_project() { # DIR
    (
        cd "$1"
        step pulumi stack init smoke --non-interactive
        step pulumi preview --non-interactive   # no stack config at all yet
        step pulumi config set message hello-world
        step pulumi config set --secret token s3cr3t
        step pulumi preview --non-interactive
        step pulumi up --yes --non-interactive --skip-preview
        [ "$(pulumi stack output length)" = 11 ] || { echo "smoke-test: wrong output length" >&2; exit 1; }
        [ "$(pulumi stack output tokenLength --show-secrets)" = 6 ] || { echo "smoke-test: wrong secret output" >&2; exit 1; }
        step pulumi preview --expect-no-changes --non-interactive
        step pulumi destroy --yes --non-interactive --skip-preview
        step pulumi stack rm --yes smoke
    )
}

echo "=== pulumi $(pulumi version) from $bindir, python SDK $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("pulumi"))')"
echo "=== project with virtualenv: $venv (absolute)"
make_project "$tmp/abs" "$venv"
run_project "$tmp/abs"

echo "=== project with virtualenv: venv (relative, symlink to $venv)"
make_project "$tmp/rel" venv
ln -s "$venv" "$tmp/rel/venv"
run_project "$tmp/rel"

echo "smoke-test: 2 passed, 0 failed"
