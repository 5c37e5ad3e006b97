"""Forward-only migrations: each applied once, in order, recorded in schema_migrations."""

import psycopg

from sampleapp import database_url

MIGRATIONS = [
    ("0001_items", "CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)"),
    ("0002_heartbeats", "CREATE TABLE IF NOT EXISTS heartbeats (worker text PRIMARY KEY, "
                        "seen_at timestamptz NOT NULL DEFAULT now())"),
]
HEAD = MIGRATIONS[-1][0]


def main() -> int:
    with psycopg.connect(database_url(), connect_timeout=10) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        done = {row[0] for row in conn.execute("SELECT id FROM schema_migrations")}
        for migration_id, statement in MIGRATIONS:
            if migration_id in done:
                continue
            print(f"applying {migration_id}", flush=True)
            conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (id) VALUES (%s)", (migration_id,))
        current = conn.execute("SELECT max(id) FROM schema_migrations").fetchone()
    print(f"schema at {current[0] if current else None}, head {HEAD}", flush=True)
    return 0 if current and current[0] == HEAD else 1
