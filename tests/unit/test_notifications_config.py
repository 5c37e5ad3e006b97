"""`releasegate:notifications`: the targets load into typed settings; a webhook URL, header
value or token set as plain text is refused naming the key and the `--secret --path` command;
no problem message ever shows a secret value."""

from __future__ import annotations

from typing import Any

import pytest

from components.notifications_spec import NotificationsSpec
from infra.settings import ConfigError
from tests.unit.test_config import load

HOOK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
TEAMS = "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3tsig"
TOKEN = "ghp_notifytoken0123456789abcdef"

ALL = {
    "slack": {"webhookUrl": HOOK},
    "teams": {"webhookUrl": TEAMS},
    "webhook": {
        "url": "https://events.example.com/releases", "headers": {"X-Api-Key": "k3y-value"}
    },
    "github": {"repository": "acme/shop", "token": TOKEN},
}


def secret_load(notifications: Any) -> Any:
    return load({"notifications": notifications}, secret_keys=("notifications",))


def problems(notifications: Any, secret: bool = True) -> str:
    with pytest.raises(ConfigError) as info:
        load({"notifications": notifications}, secret_keys=("notifications",) if secret else ())
    return str(info.value)


def test_absent_or_empty_means_no_notifications() -> None:
    assert load({}).notifications is None
    assert load({"notifications": {}}).notifications is None


def test_every_kind_loads_and_becomes_the_providers_targets() -> None:
    spec = secret_load(ALL).notifications
    assert isinstance(spec, NotificationsSpec)
    assert spec.github is not None and spec.github.environment == "test"  # the stack's name
    targets = spec.targets(ref="0123abc", log_url=None)
    assert targets["slack"] == {"webhook_url": HOOK}
    assert targets["teams"] == {"webhook_url": TEAMS}
    assert targets["webhook"] == {
        "url": "https://events.example.com/releases", "headers": {"X-Api-Key": "k3y-value"}
    }
    assert targets["github"] == {
        "repository": "acme/shop", "token": TOKEN, "environment": "test",
        "api_url": "https://api.github.com", "ref": "0123abc", "log_url": None,
    }  # fmt: skip
    assert HOOK not in repr(spec) and TOKEN not in repr(spec)


def test_a_plain_webhook_url_is_refused_naming_the_key_and_the_command() -> None:
    message = problems({"slack": {"webhookUrl": HOOK}}, secret=False)
    assert (
        "releasegate:notifications.slack.webhookUrl: a plain-text value; allowed: a Pulumi "
        "secret only (it is a credential), set with `pulumi config set --secret --path "
        "notifications.slack.webhookUrl VALUE`"
    ) in message
    assert HOOK not in message and "XXXXsecretXXXX" not in message


def test_every_credential_must_be_a_secret() -> None:
    message = problems(ALL, secret=False)
    for path in ("slack.webhookUrl", "teams.webhookUrl", "webhook.url",
                 "webhook.headers.X-Api-Key", "github.token"):  # fmt: skip
        assert f"releasegate:notifications.{path}: a plain-text value" in message
    for value in (HOOK, TEAMS, TOKEN, "k3y-value", "s3cr3tsig"):
        assert value not in message


@pytest.mark.parametrize(
    ("notifications", "expected"),
    [
        ({"slak": {"webhookUrl": HOOK}},
         "releasegate:notifications.slak: unknown setting; did you mean 'slack'?"),
        ({"slack": {}}, "releasegate:notifications.slack.webhookUrl: missing; allowed: an "
                        "https:// URL, set with `pulumi config set --secret --path"),
        ({"slack": {"webhookUrl": "hooks.slack.com/x"}},
         "releasegate:notifications.slack.webhookUrl: [secret] is not valid; allowed: an "
         "https:// URL"),
        ({"github": {"repository": "acme", "token": TOKEN}},
         "releasegate:notifications.github.repository: 'acme' is not valid; allowed: owner/name"),
        ({"github": {"repository": "acme/shop"}},
         "releasegate:notifications.github.token: missing"),
        ({"webhook": {"url": HOOK, "headers": {"Bad Header": "x"}}},
         "releasegate:notifications.webhook.headers.Bad Header: 'Bad Header' is not valid"),
        ({"teams": "https://x"}, "releasegate:notifications.teams: allowed: an object"),
    ],
)  # fmt: skip
def test_bad_settings_are_named(notifications: Any, expected: str) -> None:
    message = problems(notifications)
    assert expected in message
    assert "XXXXsecretXXXX" not in message


def test_the_offline_plans_placeholder_stands_for_a_secret_url() -> None:
    spec = secret_load({"slack": {"webhookUrl": "offline-placeholder-secret"}}).notifications
    assert spec is not None and spec.slack is not None


def test_the_placeholder_is_the_offline_plans() -> None:
    from infra.config_notifications import OFFLINE_PLACEHOLDER  # noqa: PLC0415
    from infra.plan import PLACEHOLDER_SECRET  # noqa: PLC0415

    assert OFFLINE_PLACEHOLDER == PLACEHOLDER_SECRET
