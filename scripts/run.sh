#!/usr/bin/env bash
# Run the platform in its embedded default: SQLite, a filesystem broker, a real
# Celery worker with beat, demo data, and the site on http://$HOST:$PORT.
#
# Ctrl-C (or `make stop` from another terminal, or SIGTERM) stops the web server,
# the worker and beat cleanly and quietly: the worker finishes its current task.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=learning
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-5000}
# E-mailed links, certificates' QR codes and credentials name the site this serves: PORT=8000 make run
# must not send people to :5000. (0.0.0.0 or :: listens everywhere; this machine is 127.0.0.1.)
case "$HOST" in 0.0.0.0|::|"[::]") LINK_HOST=127.0.0.1 ;; *) LINK_HOST=$HOST ;; esac
export PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://$LINK_HOST:$PORT}
INSTANCE=${LEARNING_INSTANCE_PATH:-instance}
PIDFILE="$INSTANCE/run.pid"
WORKER_LOG="$INSTANCE/worker.log"
mkdir -p "$INSTANCE"

if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "The platform is already running (process $(cat "$PIDFILE")); stop it with: make stop" >&2
  exit 1
fi

$BIN/flask db upgrade heads
$BIN/flask seed-demo --if-empty --learners "${SEED_LEARNERS:-400}"

echo $$ > "$PIDFILE"
WORKER="" WEB=""
stop() {
  trap - INT TERM
  echo
  echo "Stopping the web server, the worker and beat…"
  [[ -n "$WEB" ]] && kill -TERM "$WEB" 2>/dev/null || true
  [[ -n "$WORKER" ]] && kill -TERM "$WORKER" 2>/dev/null || true  # warm shutdown: the current task finishes
  wait 2>/dev/null || true
  rm -f "$PIDFILE"
  echo "Stopped."
  exit 0
}
trap stop INT TERM
trap 'rm -f "$PIDFILE"' EXIT

# Background jobs of a script ignore Ctrl-C; this script catches it and stops them in order.
# The web server first (it is what the person waits for), then the workers (one for learners' own
# events, with beat; one for the bulk queue: scripts/worker.sh), which load the app as it does.
$BIN/flask run --host "$HOST" --port "$PORT" &
WEB=$!
CELERY=$BIN/celery bash scripts/worker.sh >>"$WORKER_LOG" 2>&1 &
WORKER=$!
echo "Serving on http://$HOST:$PORT (admin@demo.learning / demo-admin-password)."
echo "Worker and beat log to $WORKER_LOG. Stop with Ctrl-C, or 'make stop' from another terminal."

# Whichever stops first (a crash, a port in use) brings the other down too.
status=0
wait -n "$WEB" "$WORKER" || status=$?
# Celery handles Ctrl-C's SIGINT itself, so on a busy machine the worker can stop and be reaped here
# before this script's own trap has run: give the trap a moment before calling it a crash.
sleep 1
echo "A process of the platform stopped (exit status $status); stopping the rest." >&2
trap - INT TERM
kill -TERM "$WEB" "$WORKER" 2>/dev/null || true
wait 2>/dev/null || true
exit "$status"
