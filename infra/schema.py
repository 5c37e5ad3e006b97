"""A JSON Schema (draft 2020-12) of a stack file's `releasegate:*` keys, for editor completion.

Derived from the validation itself, so a key the loaders accept cannot be missing here: the
loaders run over probe configs (every cloud, both network shapes, with builds) while
`config_reader.RECORDING` is set, and every `Reader` records its object's known names and
every typed accessor the type, bounds, default and wording it checks. Keys a loader reads by
hand (maps such as `env` or `hostPorts`) get their shape from `SHAPES`; top-level types,
defaults and descriptions come from Pulumi.yaml. infra/config.py stays the authority: the
schema helps an editor, the validation decides.

Use it with yaml-language-server: `# yaml-language-server: $schema=<path to the output>` at the
top of a stack file, after `python -m infra schema > releasegate.schema.json`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.config import load_settings
from infra.config_aws import REGION_PATTERN
from infra.config_reader import RECORDING
from infra.settings import (
    ALL_KEYS,
    KEY_APP_SECRETS,
    KEY_CLOUD,
    KEY_GENERATED_SECRETS,
    KEY_RELEASE,
    KEY_SERVICES,
    KEY_TAGS,
    NAMESPACE,
    SECRET_NAME,
    SERVICE_NAME,
    Cloud,
    ConfigError,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SERVICE = "*"
_LIST_ITEM = re.compile(r"\[\d+\]$")
"""`checks[0]` in a recorded path: every item of a list (`checks[]`) has one schema."""
"""Stands for a service's name in a recorded path (`services.*.build`)."""

SECURE: dict[str, Any] = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
    "description": "an encrypted value (`pulumi config set --secret`)",
}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_PORTS = {
    "type": "object",
    "additionalProperties": {"type": "integer", "minimum": 1, "maximum": 65535},
}
SHAPES: dict[str, dict[str, Any]] = {
    KEY_CLOUD: {"enum": [cloud.value for cloud in Cloud]},
    KEY_GENERATED_SECRETS: {"items": {"type": "string", "pattern": SECRET_NAME.pattern}},
    KEY_TAGS: {"additionalProperties": {"type": ["string", "number"]}},
    "release.migrations": {
        "type": "string",
        "description": "the migrations image's pin: an immutable tag or a sha256 digest",
    },
    "release.promotedFrom.pins": {
        "type": "object",
        "description": "image (a service or migrations): the promoted sha256 digest",
        "additionalProperties": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
    },
    "services.*.env": {
        "type": "object",
        "description": "plain environment: NAME: value (secrets go under `secrets`)",
        "additionalProperties": {"type": ["string", "number", "boolean"]},
    },
    "services.*.port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "services.*.build.context": {"type": "string", "description": "the folder to build"},
    "services.*.build.dockerfile": {"type": "string", "default": "Dockerfile"},
    "services.*.build.args": {**_STRINGS, "description": "build args: NAME: value"},
    "database.engineVersion": {
        "type": ["string", "integer"],
        "default": "16",
        "description": "a PostgreSQL major version 13-19",
    },
    "cache.engine": {"enum": ["valkey", "redis"], "default": "valkey"},
    "cache.engineVersion": {
        "type": ["string", "number"],
        "default": "8.0",
        "description": "the engine version: valkey 7.2/8.0/8.1, redis 6.x/7.0/7.1 (AWS)",
    },
    "local.hostPorts": {**_PORTS, "description": "service: port on 127.0.0.1"},
    # Its pattern depends on the region (a zone of it); any region's zone here.
    "aws.availabilityZones": {
        "type": "array",
        "items": {"type": "string", "pattern": REGION_PATTERN.pattern.removesuffix("$") + "[a-z]$"},
        "description": "availability zones of the region, such as eu-west-1a",
    },
    "aws.domains": {**_STRINGS, "description": "service: host name (HTTPS by host name)"},
    "aws.listenerPorts": {**_PORTS, "description": "service: ALB listener port"},
    "aws.hostedZoneId": {"type": "string", "description": "a Route 53 hosted zone id"},
    "aws.hostedZoneName": {"type": "string", "description": "the hosted zone's DNS name"},
    # Credentials: Pulumi secrets only (infra/config_notifications.py refuses plain values).
    "notifications.slack.webhookUrl": {**SECURE, "description": "the incoming webhook's URL"},
    "notifications.teams.webhookUrl": {**SECURE, "description": "the Workflows trigger's URL"},
    "notifications.webhook.url": {**SECURE, "description": "the receiver's URL"},
    "notifications.webhook.headers": {
        "type": "object",
        "description": "extra request headers: Name: secret value",
        "additionalProperties": SECURE,
    },
    "notifications.github.token": {**SECURE, "description": "a token that may write deployments"},
}
"""Shapes of keys the loaders read without a typed accessor, by normalized path."""

_BUILD = {"context": "app", "dockerfile": "Dockerfile", "target": "app", "args": {"A": "b"}}
_VERIFY = {"command": ["true"], "image": "api", "timeoutSeconds": 60}
_PROMOTED_FROM = {"stack": "staging", "release": "0a1b2c3d", "pins": {"api": "sha256:" + "0" * 64}}
_CHECK = {
    "path": "/x",
    "method": "POST",
    "body": {},
    "expectedStatus": 200,
    "carriesVersion": True,
    "assertions": [{"path": "status", "equals": "ok"}],
}
_NOTIFICATIONS = {
    "slack": {"webhookUrl": "u"},
    "teams": {"webhookUrl": "u"},
    "webhook": {"url": "u", "headers": {}},
    "github": {"repository": "o/n", "token": "t", "environment": "e", "apiUrl": "u"},
}
_SERVICES = {
    "api": {
        "port": 8000,
        "healthPath": "/health/ready",
        "build": _BUILD,
        "checks": [_CHECK],
        "identity": {"version": "field", "name": "version"},
        "verify": _VERIFY,
    },
    "worker": {"command": ["python", "-m", "worker"]},
}
_FREEZE = [
    {"start": "2026-12-20T00:00:00Z", "end": "2027-01-04T00:00:00Z", "reason": "year end"},
    {"weekly": {"days": ["fri"], "from": "16:00", "to": "24:00"}, "timeZone": "Europe/Berlin",
     "reason": "no Friday-evening deploys"},
]
PROBES: tuple[dict[str, Any], ...] = (
    {
        "cloud": "local",
        "services": _SERVICES,
        "migration": {"build": _BUILD, "verify": _VERIFY},
        "local": {},
        "snapshot": {"when": "always"},
        "notifications": _NOTIFICATIONS,
        "freeze": _FREEZE,
    },
    {
        "cloud": "aws",
        "services": _SERVICES,
        "aws": {"hostedZoneId": "Z1", "hostedZoneName": "a"},
        "release": {"promotedFrom": _PROMOTED_FROM},
        "promotion": {"from": "staging", "minSoakMinutes": 30},
    },
    {"cloud": "aws", "services": _SERVICES, "aws": {"vpcId": "vpc-0a1b2c3d", "production": True}},
    {"cloud": "azure", "services": _SERVICES, "azure": {}},
)
"""Configs that reach every `Reader` in the loaders (tests/unit/test_schema.py counts them)."""


def record() -> dict[str, dict[str, dict[str, Any]]]:
    """Run the loaders over `PROBES`; return normalized path -> name -> recorded schema."""
    recording: dict[str, dict[str, dict[str, Any]]] = {}
    token = RECORDING.set(recording)
    try:
        for probe in PROBES:
            values = {k: v if isinstance(v, str) else json.dumps(v) for k, v in probe.items()}
            with contextlib.suppress(ConfigError):  # probes need not be valid, only reach
                load_settings(
                    project="<project>",  # defaults derived from them read as templates
                    stack="<stack>",
                    raw_get=values.get,
                    is_secret=lambda _key: False,
                    all_keys=list(probe),
                )
    finally:
        RECORDING.reset(token)
    services = {name for probe in PROBES for name in probe["services"]}
    normalized: dict[str, dict[str, dict[str, Any]]] = {}
    for path, names in recording.items():
        parts = [_LIST_ITEM.sub("[]", part) for part in path.split(".")]
        if parts[0] == KEY_SERVICES and len(parts) > 1:
            names = {n: _templated(s, parts[1]) for n, s in names.items()}  # noqa: PLW2901
            parts[1] = _SERVICE
        into = normalized.setdefault(".".join(parts), {})
        for name, schema in names.items():
            if path == KEY_RELEASE and name in services:
                continue  # a service's pin: `additionalProperties` of release
            if not into.get(name):
                into[name] = schema
    return normalized


def _templated(schema: dict[str, Any], service: str) -> dict[str, Any]:
    """A default derived from the probe's service name, as a template (`<project>/<service>`)."""
    default = schema.get("default")
    if isinstance(default, str) and default.endswith(f"/{service}"):
        return {**schema, "default": f"{default.removesuffix(service)}<service>"}
    return schema


def _object(path: str, recorded: Mapping[str, Mapping[str, dict[str, Any]]]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for name in sorted(recorded[path], key=str.lower):
        child = f"{path}.{name}"
        if f"{child}[]" in recorded:  # a list of objects (checks, assertions)
            properties[name] = {**recorded[path][name], "items": _object(f"{child}[]", recorded)}
        elif child in recorded:
            properties[name] = _object(child, recorded)
        else:
            properties[name] = copy.deepcopy(
                SHAPES.get(child) or SHAPES.get(_generic(child)) or recorded[path][name]
            )
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _generic(path: str) -> str:
    """`migration.build.args` -> `services.*.build.args`: every build has the same shape."""
    head, sep, tail = path.partition(".build.")
    return f"services.*.build.{tail}" if sep and head == "migration" else path


def _top_level(project: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    declared = project.get("config") or {}
    out: dict[str, dict[str, Any]] = {}
    for key in ALL_KEYS:
        decl = declared.get(key) or {}
        schema: dict[str, Any] = {
            k: decl[k] for k in ("type", "default", "items", "description") if k in decl
        }
        if "description" in schema:
            schema["description"] = " ".join(str(schema["description"]).split())
        out[key] = schema
    return out


def build_schema(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The stack file's schema: `config` with every `releasegate:*` key and no other."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    recorded = record()
    properties: dict[str, Any] = {}
    for key, declared in _top_level(project).items():
        schema = dict(declared)
        if key == KEY_SERVICES:
            schema["propertyNames"] = {"pattern": SERVICE_NAME.pattern}
            service = _object(f"{KEY_SERVICES}.{_SERVICE}", recorded)
            # Only workers (no port) scale to 0 replicas.
            service["if"] = {"required": ["port"]}
            service["then"] = {"properties": {"replicas": {"minimum": 1}}}
            schema["additionalProperties"] = service
        elif key == KEY_RELEASE:
            release = _object(KEY_RELEASE, recorded)
            schema["properties"] = release["properties"]
            schema["additionalProperties"] = {
                "type": "string",
                "description": "a service's pin: an immutable tag or a sha256 digest",
            }
        elif key == KEY_APP_SECRETS:
            schema["additionalProperties"] = {"anyOf": [{"type": "string"}, SECURE]}
        elif key in recorded:
            schema.update(_object(key, recorded))
        elif f"{key}[]" in recorded:  # a list of objects (freeze windows)
            schema["items"] = _object(f"{key}[]", recorded)
        schema.update(recorded.get("", {}).get(key) or {})
        schema.update(copy.deepcopy(SHAPES.get(key, {})))
        full = f"{NAMESPACE}:{key}"
        properties[full] = {"anyOf": [schema, SECURE]} if key == KEY_APP_SECRETS else schema
    return {
        "$schema": DRAFT,
        "title": f"{project.get('name', NAMESPACE)} stack file (Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": properties,
                # Other namespaces (aws:region, azure-native:location) are free; a
                # `releasegate:` key must be one of the above (a typo is an error).
                "propertyNames": {
                    "anyOf": [{"not": {"pattern": f"^{NAMESPACE}:"}}, {"enum": sorted(properties)}]
                },
            }
        },
    }


def main() -> int:
    print(json.dumps(build_schema(), indent=2, sort_keys=False))
    return 0
