"""Azure's name rules, applied once: container app and job names (2-32 lowercase letters,
digits and '-'), registry names (5-50 letters and digits, global), key vault names (3-24, global).
Names that would be too long keep their meaning and gain a short hash, so they stay unique."""

from __future__ import annotations

from components.naming import fit, short_hash


def _hash(text: str) -> str:
    return short_hash(text, 6)


APP_NAME_MAX = 32
"""Container app and job names: 2-32 lowercase letters, digits and '-', a letter first, a letter
or digit last, no '--' (Azure's rule, as PSRule.Rules.Azure's Azure.ContainerApp.Name states it:
azure.github.io/PSRule.Rules.Azure/en/rules/Azure.ContainerApp.Name)."""


def app_name(prefix: str, name: str) -> str:
    """`<prefix>-<name>`; too long, the prefix is cut and gains its hash; a name too long to
    leave the prefix a letter (over 23 characters: service names may have 31) is cut instead
    and followed by a hash of both, so every name fits and two long names stay apart."""
    full = f"{prefix}-{name}".lower()
    if len(full) <= APP_NAME_MAX:
        return full
    keep = APP_NAME_MAX - len(name) - 8
    if keep >= 1:
        return f"{prefix[:keep].rstrip('-')}-{_hash(prefix)}-{name}".lower()
    return fit(name.lower(), APP_NAME_MAX, _hash(full))


def registry_name(prefix: str) -> str:
    letters = "".join(c for c in prefix.lower() if c.isalnum())
    return f"{letters[:40]}{_hash(prefix)}"


def vault_name(prefix: str) -> str:
    letters = "".join(c for c in prefix.lower() if c.isalnum() or c == "-").strip("-")
    return f"{letters[:15].rstrip('-')}-{_hash(prefix)}"


def cache_name(prefix: str) -> str:
    """Azure Managed Redis cluster names: 1-60 letters, digits and '-', no leading, trailing or
    consecutive '-' (REST spec, `clusterName`); the host name `<name>.<region>.redis.azure.net`
    is public DNS, so the name carries the hash too."""
    letters = "".join(c if c.isalnum() else "-" for c in prefix.lower())
    while "--" in letters:
        letters = letters.replace("--", "-")
    return f"{letters.strip('-')[:40].rstrip('-')}-cache-{_hash(prefix)}"
