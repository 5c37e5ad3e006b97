"""What a deploy says about itself through its environment, read in one place.

The program (`pulumi up`) and the commands (`check-pins`, `rollback`, `promote`) agree on
these names; the values become the ReleaseAttempt's inputs (components/gates/attempt.py) so the
ledger records who deployed, why a refusal was overridden and which release a rollback left.

- `GITHUB_ACTOR`: "the name of the person or app that initiated the workflow", a default
  environment variable of GitHub Actions that a workflow cannot overwrite (docs.github.com,
  Actions "Variables reference"); else the local user.
- `RELEASEGATE_OVERRIDE_REASON`: why a refused pin (or a freeze) is shipped anyway.
- `RELEASEGATE_ROLLBACK_OF`: the ledger release id a rollback leaves (set by `infra rollback`).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence

from components.gates.ledger import FAILED_PIN

ACTOR_ENV = "GITHUB_ACTOR"
OVERRIDE_REASON_ENV = "RELEASEGATE_OVERRIDE_REASON"
ROLLBACK_OF_ENV = "RELEASEGATE_ROLLBACK_OF"
MAX_REASON = 500
"""A reason longer than this is cut: it is a note in the ledger, not a document."""


def _value(name: str, environ: Mapping[str, str] | None) -> str | None:
    text = (os.environ if environ is None else environ).get(name, "").strip()
    return text or None


def actor(environ: Mapping[str, str] | None = None) -> str:
    """Who runs this deploy: the CI actor, else the local user (`unknown` when neither)."""
    found = _value(ACTOR_ENV, environ)
    if found:
        return found
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        return "unknown"


def override_reason(environ: Mapping[str, str] | None = None) -> str | None:
    """The override reason from the environment, trimmed; None when unset or blank."""
    reason = _value(OVERRIDE_REASON_ENV, environ)
    return reason[:MAX_REASON] if reason else None


def rollback_of(environ: Mapping[str, str] | None = None) -> str | None:
    return _value(ROLLBACK_OF_ENV, environ)


__all__ = ["FAILED_PIN", "actor", "override_reason", "overrides", "rollback_of"]


def overrides(
    kinds: Sequence[str] = (FAILED_PIN,), environ: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """`[{kind, reason}]` for the ReleaseAttempt: one per kind the reason may override, or
    none without a reason. The ledger keeps a `failed-pin` override only when the release
    really shipped a refused pin (components/gates/ledger.py)."""
    reason = override_reason(environ)
    return [{"kind": kind, "reason": reason} for kind in kinds] if reason else []
