"""A tiny product to release: an API, a web page, a queue worker and a migration command."""

import os


def version() -> str:
    return os.environ.get("APP_VERSION", "dev")


def database_url() -> str:
    """Read the database URL from the secret file the platform mounts (never plain env)."""
    path = os.environ.get("DATABASE_URL_FILE")
    if path:
        with open(path) as handle:
            return handle.read().strip()
    return os.environ.get("DATABASE_URL", "")
