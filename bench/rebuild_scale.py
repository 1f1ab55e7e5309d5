"""Rebuild the statistics rollup of an already seeded database (``bench/seed_scale.py``), aside and
swapped in as ``flask reports rebuild`` does, and record each phase's wall time, the CPU seconds
PostgreSQL's backends spent on it (what the machine's load does not inflate) and the load average.

    .venv/bin/python bench/rebuild_scale.py --database-url postgresql://postgres@127.0.0.1:5432/learning_bench_reporting_10m \
        --output rebuild_scale_10m

Writes ``bench/results/<--output>.json``. The database must hold a seed (the rollup rebuilt or not).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ServerCpu, own_cpu_seconds, peak_rss, write_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2, help="connections rebuilding at once")
    parser.add_argument("--output", default="rebuild_scale")
    args = parser.parse_args()

    from learning import create_app
    from learning.config import load_config
    from learning.extensions import db
    from learning.reporting.rebuild import rebuild_aside

    app = create_app(load_config({**os.environ, "DATABASE_URL": args.database_url, "OUTBOX_PUBLISH": "false"}))
    database = args.database_url.rsplit("/", 1)[1]
    phases: list[dict] = []
    load_before = os.getloadavg()
    python_before = own_cpu_seconds()
    started = time.perf_counter()
    with ServerCpu(args.database_url, database) as cpu:
        mark = {"cpu": 0.0, "python": own_cpu_seconds()}

        def log(line: str) -> None:
            # The backends' CPU so far (a connection closed since keeps its last sample).
            spent = sum(cpu.last[pid] - cpu.first[pid] for pid in list(cpu.last))
            python = own_cpu_seconds()
            phase = {"phase": line, "cpu_s": round(spent - mark["cpu"], 1),
                     "python_cpu_s": round(python - mark["python"], 1), "load": os.getloadavg()[0]}
            mark["cpu"], mark["python"] = spent, python
            phases.append(phase)
            print(f"{line}  (PostgreSQL CPU {phase['cpu_s']} s, Python CPU {phase['python_cpu_s']} s, "
                  f"load {phase['load']:.1f})", file=sys.stderr)

        with app.app_context():
            counts = rebuild_aside(db.engine, workers=args.workers, log=log)
    figures = {"database": database, "workers": args.workers, "wall_s": round(time.perf_counter() - started, 1),
               "postgresql_cpu_s": cpu.seconds, "python_cpu_s": round(own_cpu_seconds() - python_before, 1),
               "rss_mb": peak_rss(), "load_average_before": load_before,
               "load_average_after": os.getloadavg(), "phases": phases, "counts": counts}
    print(json.dumps(figures, indent=2))
    print(f"written {write_result(args.output, figures)}", file=sys.stderr)


if __name__ == "__main__":
    main()
