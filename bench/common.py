"""Shared helpers for the benchmarks: databases, servers on loopback, figures as JSON."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_result(name: str, figures: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **figures}, indent=2, default=str))
    return path


def ensure_postgres_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)).fetchone():
            conn.execute(f'CREATE DATABASE "{parsed.database}"')


def reset_and_migrate(database_url: str) -> None:
    """Drop everything in the database and build it with the migrations."""
    env = {**os.environ, "DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-c",
         "from learning import create_app\n"
         "from learning.extensions import db\n"
         "from sqlalchemy import text\n"
         "from flask_migrate import upgrade\n"
         "app = create_app()\n"
         "with app.app_context():\n"
         "    with db.engine.begin() as c:\n"
         "        c.execute(text('DROP SCHEMA public CASCADE')); c.execute(text('CREATE SCHEMA public'))\n"
         "    upgrade(directory='migrations', revision='heads')\n"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(app_spec: str, env: dict, workers: int = 2, threads: int = 4) -> tuple[subprocess.Popen, str]:
    """Serve ``app_spec`` with gunicorn on a free loopback port; returns (process, base URL)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app_spec, "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--access-logfile", "/dev/null"],
        cwd=ROOT, env={**os.environ, **env, "ACCESS_LOG": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode()[-3000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


# --- memory: resident set sizes from /proc (Linux), for every benchmark's results ---------------

def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def rss_mb(pid: int) -> float | None:
    """The process's resident memory in MB (VmRSS), or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def process_tree_rss(pid: int) -> dict:
    """RSS of a process and of each of its children (a gunicorn arbiter and its workers, a Celery
    worker's main process and its pool processes): ``{"main": MB, "children": [MB, ...], "max": MB}``."""
    children = [value for value in (rss_mb(child) for child in children_of(pid)) if value is not None]
    main = rss_mb(pid)
    return {"main": main, "children": children, "max": max([main or 0, *children])}


def peak_rss() -> dict:
    """This process's peak resident memory, and the largest of its waited-for children's, in MB."""
    import resource

    return {"peak_self": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_children": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


class ServerCpu:
    """CPU seconds spent by the PostgreSQL backends serving one database (same host, /proc), sampled
    every ``interval`` s from ``pg_stat_activity``: a figure the machine's load does not inflate, unlike
    wall time. Use as a context manager; ``seconds`` after it ends (a backend's CPU before its first
    sample, at most ``interval`` s of it, is not counted)."""

    def __init__(self, url: str, database: str, interval: float = 0.5) -> None:
        import threading

        self.url, self.database, self.interval = url, database, interval
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.seconds = 0.0

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.done.is_set():
                pids = [pid for (pid,) in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.database,))]
                for pid in pids:
                    value = self._cpu(pid)
                    if value is not None:
                        self.first.setdefault(pid, value)
                        self.last[pid] = value
                self.done.wait(self.interval)

    def so_far(self) -> float:
        """CPU seconds of the backends since they were first seen, as of the last sample."""
        return sum(self.last[pid] - self.first[pid] for pid in list(self.last))

    def __enter__(self) -> ServerCpu:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.thread.join()
        self.seconds = round(sum(self.last[pid] - self.first[pid] for pid in self.last), 1)


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its waited-for children so far."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
