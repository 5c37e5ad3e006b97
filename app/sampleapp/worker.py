"""A queue worker stand-in: records a heartbeat every few seconds."""

import os
import socket
import time

import psycopg

from sampleapp import database_url


def main() -> int:
    name = os.environ.get("HOSTNAME", socket.gethostname())
    while True:
        with psycopg.connect(database_url(), connect_timeout=5) as conn:
            conn.execute(
                "INSERT INTO heartbeats (worker) VALUES (%s) "
                "ON CONFLICT (worker) DO UPDATE SET seen_at = now()", (name,))
        time.sleep(5)
