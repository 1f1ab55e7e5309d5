#!/usr/bin/env bash
# Stop a platform started with `make run` (in another terminal or in the background).
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE="${LEARNING_INSTANCE_PATH:-instance}/run.pid"
if [[ ! -f "$PIDFILE" ]] || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "The platform is not running."
  rm -f "$PIDFILE"
  exit 0
fi
PID=$(cat "$PIDFILE")
kill -TERM "$PID"
for _ in $(seq 1 60); do
  kill -0 "$PID" 2>/dev/null || { echo "Stopped."; exit 0; }
  sleep 0.5
done
echo "The platform (process $PID) did not stop within 30 seconds." >&2
exit 1
