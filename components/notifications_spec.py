"""Where release notifications go (`releasegate:notifications`): the typed, frozen settings.

Every webhook URL and the GitHub token is a `SecretValue`: a webhook URL is itself the
credential (anyone holding it can post to the channel). `targets` turns the settings into the
plain `targets` mapping of the providers' `notify` input (components/gates/notify.py), which
the program passes as a Pulumi secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.spec import SecretValue


@dataclass(frozen=True)
class SlackSpec:
    webhook_url: SecretValue
    """A Slack incoming webhook (https://hooks.slack.com/services/...)."""


@dataclass(frozen=True)
class TeamsSpec:
    webhook_url: SecretValue
    """The URL of a Teams Workflows "When a Teams webhook request is received" trigger."""


@dataclass(frozen=True)
class WebhookSpec:
    url: SecretValue
    headers: Mapping[str, SecretValue] = field(default_factory=dict)
    """Extra request headers (such as an API key); their values are secrets too."""


@dataclass(frozen=True)
class GithubSpec:
    repository: str
    """`owner/name`."""
    token: SecretValue
    """A token allowed to write deployments (`deployments: write`, or `repo_deployment`)."""
    environment: str
    """The GitHub environment name (default: the stack's name)."""
    api_url: str = "https://api.github.com"
    """The REST API's base URL (GitHub Enterprise Server: https://HOST/api/v3)."""


@dataclass(frozen=True)
class NotificationsSpec:
    slack: SlackSpec | None = None
    teams: TeamsSpec | None = None
    webhook: WebhookSpec | None = None
    github: GithubSpec | None = None

    def targets(self, ref: str | None = None, log_url: str | None = None) -> dict[str, Any]:
        """The plain targets mapping (secrets revealed: pass it on as a Pulumi secret only).
        `ref`: the commit GitHub deployments are created for; `log_url`: the CI run's page."""
        out: dict[str, Any] = {}
        if self.slack is not None:
            out["slack"] = {"webhook_url": self.slack.webhook_url.reveal()}
        if self.teams is not None:
            out["teams"] = {"webhook_url": self.teams.webhook_url.reveal()}
        if self.webhook is not None:
            out["webhook"] = {
                "url": self.webhook.url.reveal(),
                "headers": {k: v.reveal() for k, v in self.webhook.headers.items()},
            }
        if self.github is not None:
            out["github"] = {
                "repository": self.github.repository,
                "token": self.github.token.reveal(),
                "environment": self.github.environment,
                "api_url": self.github.api_url,
                "ref": ref,
                "log_url": log_url,
            }
        return out
