"""The API: ready only when the database answers and the schema is at the migrations head."""

import psycopg

from sampleapp import database_url, version
from sampleapp.httpserver import as_json, serve
from sampleapp.migrate import HEAD


def ready() -> tuple[int, str, bytes]:
    try:
        with psycopg.connect(database_url(), connect_timeout=3) as conn:
            row = conn.execute("SELECT max(id) FROM schema_migrations").fetchone()
    except psycopg.Error as exc:
        return as_json(503, {"status": "unavailable", "version": version(),
                             "reason": type(exc).__name__})
    schema = row[0] if row else None
    status = 200 if schema is not None and schema >= HEAD else 503
    return as_json(status, {"status": "ok" if status == 200 else "schema behind",
                            "version": version(), "schema": schema})


def items() -> tuple[int, str, bytes]:
    with psycopg.connect(database_url(), connect_timeout=3) as conn:
        rows = conn.execute("SELECT id, name FROM items ORDER BY id").fetchall()
    return as_json(200, {"items": [{"id": i, "name": n} for i, n in rows]})


def main() -> int:
    return serve({"/health/ready": ready, "/health/live": lambda: as_json(200, {"ok": True}),
                  "/api/items": items})
