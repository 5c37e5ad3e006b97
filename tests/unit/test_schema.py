"""`python -m infra schema`: the stack file's JSON Schema agrees with the config validation.

Every stack file in the repository validates; a typo'd or mistyped key does not; and the keys
the schema offers at each level are exactly the ones the loaders accept there (read from the
loaders' own "unknown setting ...; allowed: ..." messages, not from the schema's source).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # from moto[server] in requirements-dev
import pytest
import yaml

from infra.cli import main
from infra.config import load_settings
from infra.schema import PROBES, build_schema
from infra.settings import NAMESPACE, ConfigError

ROOT = Path(__file__).resolve().parents[2]
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))
SCHEMA = build_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def errors(document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in VALIDATOR.iter_errors(document)
    ]


def stack(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text()))


def test_the_cli_prints_a_valid_draft_2020_12_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed == json.loads(json.dumps(SCHEMA))


def test_there_are_stack_files_to_check() -> None:
    assert {p.name for p in STACK_FILES} >= {"Pulumi.dev.yaml", "Pulumi.production.yaml"}


@pytest.mark.parametrize("path", STACK_FILES, ids=lambda p: p.name)
def test_every_stack_file_in_the_repository_validates(path: Path) -> None:
    assert errors(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(
    ("stack_name", "edit", "where"),
    [
        ("dev", lambda c: c.update({f"{NAMESPACE}:healthgate": {}}), ""),
        ("dev", lambda c: c.setdefault(f"{NAMESPACE}:healthGate", {}).update(
            {"intervalSecond": 3}), f"{NAMESPACE}:healthGate"),
        ("production", lambda c: c[f"{NAMESPACE}:services"]["api"].update({"replica": 3}),
         f"{NAMESPACE}:services/api"),
        ("production", lambda c: c[f"{NAMESPACE}:services"]["api"].update({"replicas": 0}),
         f"{NAMESPACE}:services/api/replicas"),
        ("production", lambda c: c[f"{NAMESPACE}:aws"].update({"waf": {"rateLimit": "x"}}),
         f"{NAMESPACE}:aws/waf/rateLimit"),
        ("dev", lambda c: c.update({f"{NAMESPACE}:cloud": "gcp"}), f"{NAMESPACE}:cloud"),
        ("dev", lambda c: c.update({f"{NAMESPACE}:ledgerHistory": 1}),
         f"{NAMESPACE}:ledgerHistory"),
    ],
)  # fmt: skip
def test_a_typo_or_a_bad_value_does_not_validate(stack_name: str, edit: Any, where: str) -> None:
    document = copy.deepcopy(stack(stack_name))
    edit(document["config"])
    found = errors(document)
    assert found, "the schema accepted a broken stack file"
    assert any(e.startswith(f"config/{where}".rstrip("/")) for e in found), found


def test_other_namespaces_stay_free() -> None:
    document = stack("dev")
    document["config"]["aws:region"] = "eu-west-1"
    document["config"]["someprovider:anything"] = {"x": 1}
    assert errors(document) == []


def _allowed_by_the_loaders(config: dict[str, Any], path: str) -> set[str]:
    """The names the loaders accept at `path`, from their message for an unknown name there."""
    keys = path.split(".") if path else []
    raw = copy.deepcopy(config)
    if keys:
        target = raw.setdefault(keys[0], {})
        for key in keys[1:]:
            target = target.setdefault(key, {})
        target["zzzz"] = 1
    else:
        raw["zzzz"] = 1
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    with pytest.raises(ConfigError) as caught:
        load_settings("releasegate", "test", values.get, lambda _key: False, all_keys=list(raw))
    full = f"{NAMESPACE}:{path}.zzzz" if path else f"{NAMESPACE}:zzzz"
    for problem in caught.value.problems:
        match = re.match(rf"^{re.escape(full)}: unknown (?:setting|key)[^;]*; allowed: (.*)$",
                         problem)  # fmt: skip
        if match:
            return set(match.group(1).split(", "))
    raise AssertionError(f"no unknown-name message for {full}: {caught.value.problems}")


def _schema_names(path: str) -> set[str]:
    config = SCHEMA["properties"]["config"]["properties"]
    if not path:
        return {name.removeprefix(f"{NAMESPACE}:") for name in config}
    head, *rest = path.split(".")
    node = config[f"{NAMESPACE}:{head}"]
    if head == "services":
        node, rest = node["additionalProperties"], rest[1:]
    for key in rest:
        node = node["properties"][key]
    return set(node["properties"])


BUILD = {"context": "app"}
SERVICES = {"api": {"port": 8000, "healthPath": "/health", "build": BUILD}}
LEVELS = [
    ({"cloud": "local"}, ""),
    ({"cloud": "local", "services": SERVICES}, "services.api"),
    ({"cloud": "local", "services": SERVICES}, "services.api.build"),
    ({"cloud": "local", "migration": {"build": BUILD}}, "migration.build"),
    ({"cloud": "local"}, "migration"),
    ({"cloud": "local"}, "database"),
    ({"cloud": "local"}, "healthGate"),
    ({"cloud": "local"}, "local"),
    ({"cloud": "aws"}, "aws"),
    ({"cloud": "aws"}, "aws.waf"),
    ({"cloud": "azure"}, "azure"),
    ({"cloud": "local", "services": SERVICES}, "services.api.identity"),
    ({"cloud": "local", "services": SERVICES}, "services.api.verify"),
    ({"cloud": "local"}, "migration.verify"),
    ({"cloud": "local"}, "snapshot"),
    ({"cloud": "aws"}, "cache"),
    ({"cloud": "local"}, "promotion"),
    ({"cloud": "local", "release": {"promotedFrom": {"pins": {}}}}, "release.promotedFrom"),
    ({"cloud": "local"}, "notifications"),
    ({"cloud": "local"}, "notifications.slack"),
    ({"cloud": "local"}, "notifications.teams"),
    ({"cloud": "local"}, "notifications.webhook"),
    ({"cloud": "local"}, "notifications.github"),
]


@pytest.mark.parametrize(("config", "path"), LEVELS, ids=[p or "top" for _, p in LEVELS])
def test_the_schema_offers_exactly_the_keys_the_loaders_accept(
    config: dict[str, Any], path: str
) -> None:
    assert _schema_names(path) == _allowed_by_the_loaders(config, path)


def test_release_offers_its_own_keys_and_takes_any_service_pin() -> None:
    accepted = _allowed_by_the_loaders({"cloud": "local", "services": SERVICES}, "release")
    assert _schema_names("release") == accepted - set(SERVICES)
    release = SCHEMA["properties"]["config"]["properties"][f"{NAMESPACE}:release"]
    assert release["additionalProperties"]["type"] == "string"


def test_every_reader_in_the_loaders_is_reached_by_a_probe() -> None:
    """A new `Reader(...)` (a new config object) needs its level in LEVELS and in the probes:
    this counts the call sites so one cannot be added unnoticed."""
    sites = [
        f"{path.name}:{node.lineno}"
        for path in sorted((ROOT / "infra").glob("config*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Reader"
    ]
    assert len(sites) == 23, f"Reader call sites changed: {sites}; update LEVELS and PROBES"
    assert {p["cloud"] for p in PROBES} == {"local", "aws", "azure"}


def _loaders_allow_in_list(api: dict[str, Any], full: str) -> set[str]:
    """The names the loaders accept in a list item (a check, an assertion) holding `zzzz`."""
    raw = {"cloud": "local", "services": {"api": {**SERVICES["api"], **api}}}
    values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    with pytest.raises(ConfigError) as caught:
        load_settings("releasegate", "test", values.get, lambda _key: False, all_keys=list(raw))
    for problem in caught.value.problems:
        match = re.match(rf"^{re.escape(full)}: unknown setting[^;]*; allowed: (.*)$", problem)
        if match:
            return set(match.group(1).split(", "))
    raise AssertionError(f"no unknown-name message for {full}: {caught.value.problems}")


def test_check_and_assertion_items_offer_exactly_the_keys_the_loaders_accept() -> None:
    api = SCHEMA["properties"]["config"]["properties"][f"{NAMESPACE}:services"][
        "additionalProperties"
    ]
    check = api["properties"]["checks"]
    assert check["type"] == "array"
    assertion = check["items"]["properties"]["assertions"]
    assert set(check["items"]["properties"]) == _loaders_allow_in_list(
        {"checks": [{"path": "/x", "zzzz": 1}]}, f"{NAMESPACE}:services.api.checks[0].zzzz"
    )
    assert set(assertion["items"]["properties"]) == _loaders_allow_in_list(
        {"checks": [{"path": "/x", "assertions": [{"path": "a", "zzzz": 1}]}]},
        f"{NAMESPACE}:services.api.checks[0].assertions[0].zzzz",
    )


def test_runbook_style_checks_validate_and_only_workers_scale_to_zero() -> None:
    document = copy.deepcopy(stack("dev"))
    config = document["config"]
    services = config.setdefault(f"{NAMESPACE}:services", {})
    services["api"] = {
        "port": 8000,
        "healthPath": "/healthz",
        "checks": [{"path": "/readyz", "assertions": [{"path": "ok", "equals": True}]},
                   {"path": "/runs", "method": "POST", "body": {"dry_run": True}}],
        "identity": {"version": "none"},
        "verify": {"command": ["./smoke.sh"]},
    }  # fmt: skip
    services["worker"] = {"replicas": 0}
    assert errors(document) == []
    services["api"]["checks"][0]["assertions"][0]["lessThan"] = "x"
    services["api"]["checks"][1]["method"] = "PUT"
    found = errors(document)
    assert any("checks/0/assertions/0/lessThan" in e for e in found), found
    assert any("checks/1/method" in e for e in found), found
