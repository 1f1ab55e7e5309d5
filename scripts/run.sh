#!/usr/bin/env bash
# Run the platform in its embedded default: SQLite, a filesystem broker, a real
# Celery worker with beat, demo data, and the site on http://127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=learning
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}

$BIN/flask db upgrade heads
$BIN/flask seed-demo --if-empty

$BIN/celery -A celery_worker worker --beat --loglevel=INFO --concurrency=2 &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM

echo "Serving on http://$HOST:$PORT (admin@demo.learning / demo-admin-password)"
$BIN/flask run --host "$HOST" --port "$PORT"
