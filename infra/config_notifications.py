"""`releasegate:notifications`: where release notifications go (issue 13).

    releasegate:notifications:
      slack: {webhookUrl: {secure: ...}}
      teams: {webhookUrl: {secure: ...}}          # a Teams Workflows webhook trigger's URL
      webhook: {url: {secure: ...}, headers: {X-Api-Key: {secure: ...}}}
      github: {repository: acme/shop, token: {secure: ...}, environment: production}

Every URL (and header value, and the GitHub token) is a credential: whoever holds a webhook URL
can post to the channel. So they must be Pulumi secrets, set with `pulumi config set --secret
--path notifications.slack.webhookUrl URL`; a plain value is refused, naming the key and that
command. The engine tells the program only whether the whole `notifications` key holds a secret
(a value with any `secure:` part is secret as a whole), so a stack whose `notifications` holds
no secret at all is refused; one secret anywhere marks the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from components.notifications_spec import (
    GithubSpec,
    NotificationsSpec,
    SlackSpec,
    TeamsSpec,
    WebhookSpec,
)
from components.spec import SecretValue
from infra.config_reader import Problems, Reader, record_schema
from infra.settings import KEY_NOTIFICATIONS, NAMESPACE

KINDS = {"slack", "teams", "webhook", "github"}
REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
"""`owner/name`: an owner of up to 39 letters, digits and hyphens, a repository name of
letters, digits, `.`, `_` and `-` (the same shape infra/cli.py's `fetch`-style names take)."""
ENVIRONMENT = re.compile(r"^[^\s/][^/]{0,254}$")
"""A GitHub environment name: up to 255 characters (REST API, Create or update an
environment: `environment_name`); no slash, so it fits the URL path."""
HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
"""An HTTP header name (RFC 9110 token)."""
KEY = KEY_NOTIFICATIONS
OFFLINE_PLACEHOLDER = "offline-placeholder-secret"
"""What the offline plan (infra/plan.py PLACEHOLDER_SECRET) puts in place of a `secure:`
value it cannot decrypt: accepted wherever a secret URL is expected."""


def _set_command(path: str) -> str:
    return f"`pulumi config set --secret --path {KEY}.{path} VALUE`"


def load_notifications(
    problems: Problems, text: str | None, secret: bool, stack: str
) -> NotificationsSpec | None:
    """The notification targets; None when the key is absent or empty (Pulumi.yaml's
    default). GitHub's environment defaults to `stack`. Problems never quote a URL, header
    value or token."""
    if text is None:
        return None
    try:
        raw: Any = json.loads(text)
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        problems.raw(
            f"{NAMESPACE}:{KEY}: allowed: an object with slack, teams, webhook and/or github"
        )
        return None
    Reader(problems, KEY, raw, KINDS)  # unknown kinds, with the nearest known one
    if not raw:
        return None
    slack = teams = webhook = github = None
    if "slack" in raw:
        url = _secret_url(problems, raw["slack"], "slack", "webhookUrl", secret)
        slack = SlackSpec(url) if url else None
    if "teams" in raw:
        url = _secret_url(problems, raw["teams"], "teams", "webhookUrl", secret)
        teams = TeamsSpec(url) if url else None
    if "webhook" in raw:
        webhook = _webhook(problems, raw["webhook"], secret)
    if "github" in raw:
        github = _github(problems, raw["github"], secret, stack)
    return NotificationsSpec(slack=slack, teams=teams, webhook=webhook, github=github)


def _object(problems: Problems, raw: object, kind: str, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        names = ", ".join(sorted(known))
        problems.raw(f"{NAMESPACE}:{KEY}.{kind}: allowed: an object with {names}")
        return {}
    Reader(problems, f"{KEY}.{kind}", raw, known)
    return raw


def _secret(
    problems: Problems, value: object, path: str, secret: bool, what: str
) -> SecretValue | None:
    """A secret string at `path` (relative to the key); refused when missing, not a string,
    or when the key holds no secret (a plain value)."""
    parent, _, name = path.rpartition(".")
    record_schema(f"{KEY}.{parent}", name, {"type": "string", "description": what})
    if value is None:
        problems.raw(f"{NAMESPACE}:{KEY}.{path}: missing; allowed: {what}, set with "
                     f"{_set_command(path)}")  # fmt: skip
        return None
    if not secret:
        problems.raw(
            f"{NAMESPACE}:{KEY}.{path}: a plain-text value; allowed: a Pulumi secret only "
            f"(it is a credential), set with {_set_command(path)}"
        )
        return None
    if not isinstance(value, str) or not value.strip():
        problems.raw(f"{NAMESPACE}:{KEY}.{path}: [secret] is not valid; allowed: {what}")
        return None
    return SecretValue(value)


def _secret_url(
    problems: Problems, raw: object, kind: str, name: str, secret: bool
) -> SecretValue | None:
    settings = _object(problems, raw, kind, {name} if kind != "webhook" else {name, "headers"})
    if not settings and not isinstance(raw, dict):
        return None
    path = f"{kind}.{name}"
    value = _secret(problems, settings.get(name), path, secret, "an https:// URL")
    if value is None:
        return None
    url = value.reveal()
    if url == OFFLINE_PLACEHOLDER:
        return value
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname:
        problems.raw(
            f"{NAMESPACE}:{KEY}.{path}: [secret] is not valid; allowed: an https:// URL (the "
            "value is not shown: it is a secret)"
        )
        return None
    return value


def _webhook(problems: Problems, raw: object, secret: bool) -> WebhookSpec | None:
    url = _secret_url(problems, raw, "webhook", "url", secret)
    settings = raw if isinstance(raw, dict) else {}
    record_schema(f"{KEY}.webhook", "headers", {"type": "object",
                  "description": "extra request headers: Name: secret value"})  # fmt: skip
    headers: dict[str, SecretValue] = {}
    given = settings.get("headers")
    if given is not None and not isinstance(given, dict):
        problems.raw(f"{NAMESPACE}:{KEY}.webhook.headers: allowed: an object of Name: value")
    for name, value in (given or {}).items():
        if not HEADER.match(str(name)):
            problems.add(f"{KEY}.webhook.headers.{name}", name, "an HTTP header name")
            continue
        if (header := _secret(problems, value, f"webhook.headers.{name}", secret,
                              "the header's value")) is not None:  # fmt: skip
            headers[str(name)] = header
    if url is None:
        return None
    return WebhookSpec(url=url, headers=headers)


def _github(problems: Problems, raw: object, secret: bool, stack: str) -> GithubSpec | None:
    known = {"repository", "token", "environment", "apiUrl"}
    if not isinstance(raw, dict):
        names = ", ".join(sorted(known))
        problems.raw(f"{NAMESPACE}:{KEY}.github: allowed: an object with {names}")
        return None
    settings: Mapping[str, Any] = raw
    r = Reader(problems, f"{KEY}.github", settings, known)
    repository = r.string("repository", None, REPOSITORY, "owner/name of the GitHub repository")
    if settings.get("repository") is None:
        problems.raw(f"{NAMESPACE}:{KEY}.github.repository: missing; allowed: owner/name")
    environment = r.string("environment", None, ENVIRONMENT,
                           "a GitHub environment name (default: the stack's name)")  # fmt: skip
    api_url = r.string(
        "apiUrl", "https://api.github.com", re.compile(r"^https?://\S+$"),
        "the REST API's base URL (GitHub Enterprise Server: https://HOST/api/v3)",
    )  # fmt: skip
    token = _secret(problems, settings.get("token"), "github.token", secret,
                    "a token that may write deployments")  # fmt: skip
    if repository is None or token is None or api_url is None:
        return None
    return GithubSpec(
        repository=repository, token=token, environment=environment or stack, api_url=api_url
    )
