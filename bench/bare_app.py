"""A bare Flask app with one endpoint doing one database write: the baseline for hot_path.py."""

from __future__ import annotations

import os

from flask import Flask, jsonify
from sqlalchemy import create_engine, text


def create_app() -> Flask:
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url, pool_pre_ping=True)
    with engine.begin() as conn:
        # gunicorn's workers start at once: without the lock two CREATE TABLE IF NOT EXISTS can race
        # (a duplicate pg_type row) and a worker fails to boot.
        conn.execute(text("SELECT pg_advisory_xact_lock(7007)"))
        conn.execute(text("CREATE TABLE IF NOT EXISTS bench_writes (id BIGSERIAL PRIMARY KEY, n INT)"))

    @app.post("/write")
    def write():
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_writes (n) VALUES (1)"))
        return jsonify({"ok": True}), 201

    return app
