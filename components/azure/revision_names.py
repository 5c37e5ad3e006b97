"""Container Apps revision names: `<app>--<suffix>`, a suffix never used on that app before.

Azure's rules, as ARM states them when it refuses a name (`ContainerAppInvalidRevisionName`,
quoted in microsoft/azure-container-apps#1443 and #1460, Azure/azure-quickstart-templates#14660):
lower-case letters, digits and '-', starting with a letter, ending with a letter or digit, and
"not more than a combined 54 characters with the container app name" (Azure/aca-review-apps#40
saw longer names silently not created). The CLI adds "cannot have '--'" in the suffix
(Azure/azure-cli-extensions#6449), since `--` separates app and suffix. We count the whole
revision name, separator included, against 54: the strictest reading.

A suffix is used once per app: reusing one is refused ("Field 'template.revisionsuffix' is
invalid ... revision with suffix already exists", Azure/terraform-azurerm-avm-res-app-
containerapp#115) or, for an inactive revision, silently does nothing
(microsoft/azure-container-apps#650). So a suffix is `r<8 hex of the content>-<UTC seconds in
base 36>`, bumped until it is not among the app's revision names (inactive ones included); the
time part also keeps it unique after Azure purged old inactive revisions (`maxInactiveRevisions`).
The content prefix lets a rollout find an active revision with the same content by name.
"""

from __future__ import annotations

import re
from collections.abc import Collection

MAX_REVISION_NAME = 54
SEPARATOR = "--"
SUFFIX = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def base36(number: int) -> str:
    if number <= 0:
        return "0"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = DIGITS[rest] + out
    return out


def revision_name(app: str, suffix: str) -> str:
    return f"{app}{SEPARATOR}{suffix}"


def suffix_problem(app: str, suffix: str) -> str | None:
    """Why Azure would refuse `suffix` on `app`, or None."""
    if not SUFFIX.match(suffix):
        return (f"revision suffix {suffix!r}: lower-case letters, digits and single '-', "
                "starting with a letter and ending with a letter or digit")  # fmt: skip
    name = revision_name(app, suffix)
    if len(name) > MAX_REVISION_NAME:
        return f"revision name {name!r} is {len(name)} characters, more than {MAX_REVISION_NAME}"
    return None


def content_prefix(fingerprint: str) -> str:
    """The suffix's first part: `r` + 8 hex of the revision's content."""
    return f"r{fingerprint[:8]}-"


def new_suffix(app: str, fingerprint: str, existing: Collection[str], now: int) -> str:
    """A valid suffix for `app` whose revision name is not in `existing` (every revision name
    the app has, inactive ones included). `now` is UTC seconds; the caller passes the clock."""
    prefix = content_prefix(fingerprint)
    stamp = now
    while True:
        suffix = prefix + base36(stamp)
        problem = suffix_problem(app, suffix)
        if problem is not None:  # app names are at most 32 (components.azure.naming)
            raise ValueError(problem)
        if revision_name(app, suffix) not in existing:
            return suffix
        stamp += 1
