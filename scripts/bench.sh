#!/usr/bin/env bash
# Run every benchmark in bench/ against the local PostgreSQL (and Redis for the worker),
# printing each one's figures; each also writes bench/results/<name>.json.
# Takes a few minutes on a 2-core machine; see docs/PERFORMANCE.md for the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/14}
START=$(date +%s)

run() {
  echo
  echo "=== $* ==="
  local t0=$(date +%s)
  "$@"
  echo "(took $(( $(date +%s) - t0 )) s)"
}

run $PY bench/seed_scale.py                  # 1,000,000 enrolments with COPY
run $PY bench/report_summary.py              # the summary endpoint vs. plain SQL, on that data
run $PY -m bench.roster_import               # a 10,000-row roster
run $PY bench/certificates.py --count 2000   # certificates per second with a real worker, PDF included
run $PY bench/reminders_due.py               # due reminders among 250,000 learners
run $PY -m bench.hot_path                    # enrol + complete lessons under gunicorn vs. a bare Flask write
run env -u CELERY_BROKER_URL $PY bench/first_certificate.py                 # embedded mode: make run, then a newcomer
run env -u CELERY_BROKER_URL $PY bench/first_certificate.py --leave-events  # ... behind the demo's ~290 events

$PY bench/summary.py                         # every figure beside its aim, with its floor or peer

echo
echo "All benchmarks done in $(( $(date +%s) - START )) s; results in bench/results/"
