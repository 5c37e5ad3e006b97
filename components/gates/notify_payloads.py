"""What a release notification says, shaped for each kind of receiver.

One `Event` (start, failure, success, rollback) becomes a Slack incoming-webhook message, a
Microsoft Teams Workflows card, a generic JSON document or a GitHub deployment status. Nothing
here sends anything (components/gates/notify.py does) and nothing here sees a target's URL or
token: a payload carries only the event, whose text the caller has already redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal["start", "failure", "success", "rollback"]
EVENT_KINDS: tuple[EventKind, ...] = ("start", "failure", "success", "rollback")
SCHEMA = "releasegate.notification/v1"
"""The generic webhook body's `schema` field; a new, incompatible body gets a new version."""
SUMMARY_LIMIT = 1500
"""Characters of evidence a message carries: enough for the gate's verdict and the last log
lines, short enough for a chat message (Slack truncates a section's text at 3000)."""
GITHUB_DESCRIPTION_LIMIT = 140
"""GitHub: "A short description of the status. The maximum description length is 140
characters." (REST API, Create a deployment status)."""

_TITLES: dict[EventKind, str] = {
    "start": "Release started",
    "failure": "Release FAILED",
    "success": "Release succeeded",
    "rollback": "Rollback succeeded",
}
_ICONS: dict[EventKind, str] = {
    "start": ":rocket:",
    "failure": ":x:",
    "success": ":white_check_mark:",
    "rollback": ":leftwards_arrow_with_hook:",
}


def rollback_command(stack: str) -> str:
    """The command that rolls the stack back to its last good release (infra/cli.py)."""
    return f"python -m infra rollback --stack {stack}"


@dataclass(frozen=True, kw_only=True)
class Event:
    """One thing that happened to a release. `summary` and the `details` values must already
    be redacted: they go out as written."""

    kind: EventKind
    stack: str
    release: str | None = None
    """The release id (components/gates/ledger.py `release_id`: a hash of the pinned digests),
    where the sender knows it: the attempt and the ledger do; a failing step knows its own
    image (in `details`), not the whole release."""
    step: str | None = None
    """Failure only: which step failed, such as `health gate api` or `migration`."""
    summary: str = ""
    """Failure: the redacted evidence (the step's own error message); else a short note."""
    details: Mapping[str, str] = field(default_factory=dict)
    """Short facts shown as fields, such as the pins (`api: v1.4.2`)."""
    at: str = ""
    """When it happened (ISO-8601 UTC, `...Z`)."""

    @property
    def title(self) -> str:
        return f"{_TITLES[self.kind]}: {self.stack}"

    @property
    def rollback(self) -> str | None:
        """The rollback command, on a failure only (that is when someone needs it)."""
        return rollback_command(self.stack) if self.kind == "failure" else None

    def text(self) -> str:
        """The whole message as plain text (Slack's notification fallback, the generic
        webhook's `text`)."""
        lines = [self.title + (f" (release {self.release})" if self.release else "")]
        if self.step:
            lines.append(f"Step: {self.step}")
        if self.summary:
            lines.append(self.short_summary())
        lines += [f"{key}: {value}" for key, value in self.details.items()]
        if self.rollback:
            lines.append(f"Roll back: {self.rollback}")
        return "\n".join(lines)

    def short_summary(self) -> str:
        if len(self.summary) <= SUMMARY_LIMIT:
            return self.summary
        return self.summary[: SUMMARY_LIMIT - 1] + "…"


def slack_payload(event: Event) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` plus Block Kit `blocks`. Slack: "you send a
    JSON payload with the message text and some options"; with `blocks`, `text` "is used as a
    fallback string to display in notifications" (docs.slack.dev, Sending messages using
    incoming webhooks; @slack/webhook IncomingWebhookSendArguments: text, blocks)."""
    header = f"{_ICONS[event.kind]} *{event.title}*"
    if event.release:
        header += f" (release `{event.release}`)"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": header}},
    ]
    if event.step:
        step = f"*Step:* {event.step}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": step}})
    if event.summary:
        blocks.append({
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"```{event.short_summary()}```"},
        })
    if event.details:
        blocks.append({
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{key}*\n{value}"}
                for key, value in list(event.details.items())[:10]  # Slack: at most 10 fields
            ],
        })
    if event.rollback:
        blocks.append({
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*Roll back:* `{event.rollback}`"},
        })
    return {"text": event.text(), "blocks": blocks}


def teams_payload(event: Event) -> dict[str, Any]:
    """A message for a Microsoft Teams Workflows webhook ("When a Teams webhook request is
    received", the "Post to a channel when a webhook request is received" template).

    Office 365 (Microsoft 365) connectors, the old incoming webhooks, are being retired, and
    "Workflows support Adaptive Cards only. It doesn't support the older message card format
    that Office 365 Connectors use" (learn.microsoft.com, Teams platform, Create and send
    messages / connectors-using). The trigger takes a message whose `attachments` hold the
    card as `application/vnd.microsoft.card.adaptive` content; the template posts
    `attachments[0].content` (its `triggerOutputs()?['body']?['attachments']` loop)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
         "text": event.title,
         **({"color": "Attention"} if event.kind == "failure" else {})},
    ]  # fmt: skip
    if event.release:
        body.append({"type": "TextBlock", "wrap": True, "isSubtle": True,
                     "text": f"Release {event.release}"})  # fmt: skip
    facts = [{"title": "Step", "value": event.step}] if event.step else []
    facts += [{"title": key, "value": value} for key, value in event.details.items()]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    if event.summary:
        body.append({
            "type": "TextBlock", "wrap": True, "fontType": "Monospace",
            "text": event.short_summary(),
        })  # fmt: skip
    if event.rollback:
        body.append({"type": "TextBlock", "wrap": True, "text": f"Roll back: {event.rollback}"})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def webhook_payload(event: Event) -> dict[str, Any]:
    """The generic JSON webhook's body (documented in docs/notifications.md)."""
    return {
        "schema": SCHEMA,
        "event": event.kind,
        "stack": event.stack,
        "release": event.release,
        "step": event.step,
        "summary": event.short_summary() or None,
        "details": dict(event.details),
        "rollback_command": event.rollback,
        "at": event.at,
        "text": event.text(),
    }


def github_state(kind: EventKind) -> str:
    """The deployment status for an event. GitHub's states: error, failure, inactive,
    in_progress, queued, pending, success (REST API, Create a deployment status)."""
    return {"start": "in_progress", "failure": "failure"}.get(kind, "success")


def github_description(event: Event) -> str:
    """A status description of at most 140 characters (GitHub's limit)."""
    text = event.title if not event.step else f"{event.title}: {event.step}"
    if len(text) <= GITHUB_DESCRIPTION_LIMIT:
        return text
    return text[: GITHUB_DESCRIPTION_LIMIT - 1] + "…"
