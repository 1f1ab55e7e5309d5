#!/usr/bin/env bash
# The embedded mode's Celery workers (scripts/run.sh starts this script; so does
# bench/first_certificate.py, to measure exactly what `make run` runs).
#
# Two workers of one process each rather than one worker of two pool processes: one consumes only
# the default queue (a learner's own event: their certificate, a mail) and runs beat; the other
# only the bulk queue (the outbox's batches, rosters, invitations, erasures, reminders). A learner's
# certificate then never waits for a batch in progress: before, with both pool processes inside a
# batch of the demo's backlog, it waited 2.4-13.3 s (docs/PERFORMANCE.md, "The newcomer's first
# certificate"). `--pool=solo` runs the tasks in the worker's own process: two processes doing the
# work, as before, and one fewer in all (beat is the interactive worker's child). Each worker renders
# throwaway certificates as it starts (learning/certificates/pdf.py, warm_up), so the first learner
# does not wait for the fonts to load; and what bulk work emits (a batch's "certificate issued"
# announcement and its fifty mails) stays on the bulk queue (learning/outbox/services.py).
#
# SIGTERM (or SIGINT) stops both, each finishing its current task; if one stops by itself, the other
# is stopped too and this script exits with the first one's status.
set -uo pipefail
cd "$(dirname "$0")/.."
CELERY=${CELERY:-.venv/bin/celery}
QUEUE=${CELERY_QUEUE:-learning}
COMMON=(-A celery_worker worker --pool=solo --concurrency=1 --loglevel=INFO --without-gossip --without-mingle)

INTERACTIVE="" BULK=""
stop() {
  trap - INT TERM
  kill -TERM $INTERACTIVE $BULK 2>/dev/null || true
  wait 2>/dev/null || true
  exit 0
}
trap stop INT TERM

# The bulk worker starts once the interactive one is ready (celery_worker.py touches the file), so
# that at most two processes (the web server and one worker) load the app at once: on a busy
# machine, three at once kept the web server from answering for over a minute.
READY_FILE=$(mktemp -u "${TMPDIR:-/tmp}/learning-worker-ready.XXXXXX")
LEARNING_WORKER_READY_FILE=$READY_FILE $CELERY "${COMMON[@]}" --beat -Q "$QUEUE" -n "interactive@%h" &
INTERACTIVE=$!
for _ in $(seq 1 1200); do  # at most 10 minutes
  [[ -e "$READY_FILE" ]] && break
  kill -0 "$INTERACTIVE" 2>/dev/null || break
  sleep 0.5
done
rm -f "$READY_FILE"
$CELERY "${COMMON[@]}" -Q "$QUEUE.bulk" -n "bulk@%h" &
BULK=$!

status=0
wait -n "$INTERACTIVE" "$BULK" || status=$?
trap - INT TERM
kill -TERM "$INTERACTIVE" "$BULK" 2>/dev/null || true
wait 2>/dev/null || true
exit "$status"
