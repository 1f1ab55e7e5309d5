#!/usr/bin/env bash
# Run every benchmark in bench/ against the local PostgreSQL (and Redis for the worker),
# printing each one's figures; each also writes bench/results/<name>.json; then bench/summary.py
# prints every figure of issue 16 beside its aim and its floor, in one table.
# Takes a few minutes on a 2-core machine; see docs/PERFORMANCE.md for the figures.
#
#   make bench                    # everything, the statistics at 1,000,000 enrolments
#   BENCH_SCALE=10m make bench    # only the statistics at 10,000,000 enrolments / 2,500,000 people
#                                 # (seed, rebuild, summary; about 4 GB of disk while it runs, dropped
#                                 # after), then the same table with the other figures' last results
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/14}
BENCH_SCALE=${BENCH_SCALE:-1m}
START=$(date +%s)
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"

run() {
  echo
  echo "=== $* ==="
  local t0=$(date +%s)
  "$@"
  echo "(took $(( $(date +%s) - t0 )) s; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
}

case "$BENCH_SCALE" in
  1m)
    run $PY bench/seed_scale.py                  # 1,000,000 enrolments with COPY, then the rollup rebuilt aside
    run $PY bench/report_summary.py              # the summary endpoint vs. plain SQL, on that data
    run $PY -m bench.roster_import               # a 10,000-row roster
    run $PY bench/certificates.py --count 2000   # certificates per second with a real worker, PDF included
    run $PY bench/reminders_due.py               # due reminders among 250,000 learners
    run $PY -m bench.hot_path                    # enrol + complete lessons under gunicorn vs. a bare Flask write, in turns
    run $PY -m bench.hot_path_cpu                # its CPU per request in one process: direct vs. through SQLAlchemy
    run env -u CELERY_BROKER_URL $PY bench/first_certificate.py                 # embedded mode: make run, then a newcomer
    run env -u CELERY_BROKER_URL $PY bench/first_certificate.py --leave-events  # ... behind the demo's ~290 events
    ;;
  10m)
    URL10=${BENCH_10M_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/learning_bench_reporting_10m}
    drop10() { psql "${URL10%/*}/postgres" -qc "DROP DATABASE IF EXISTS \"${URL10##*/}\"" || true; }
    trap drop10 EXIT                             # ~4 GB: never left behind
    run $PY bench/seed_scale.py --database-url "$URL10" --people 2500000 --enrolments 10000000 \
        --output seed_scale_10m                  # 10,000,000 enrolments, then the rollup rebuilt aside (twice)
    run $PY bench/report_summary.py --database-url "$URL10" --plain-runs 1 --plain-cases 1 --export-runs 0 --unaligned-runs 3 \
        --output bench/results/report_summary_10m.json
    ;;
  *) echo "BENCH_SCALE is 1m or 10m" >&2; exit 2 ;;
esac

$PY bench/summary.py                         # every figure beside its aim, with its floor or peer

echo
echo "All benchmarks done in $(( $(date +%s) - START )) s; results in bench/results/"
