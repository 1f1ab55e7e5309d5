"""`make run` is the newcomer's path: it serves the platform with a worker and beat, and Ctrl-C in
its terminal (or `make stop` from another) stops all three cleanly and quietly."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import subprocess
import termios
import time
import urllib.request
from pathlib import Path

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]


def _read_until(fd: int, needle: str, timeout: float, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while needle not in "".join(seen):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {needle!r}; output so far:\n{''.join(seen)}")
        ready, _w, _x = select.select([fd], [], [], 0.5)
        if ready:
            try:
                seen.append(os.read(fd, 4096).decode(errors="replace"))
            except OSError:
                return


def _drain(fd: int, seen: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _w, _x = select.select([fd], [], [], 0.3)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            seen.append(chunk.decode(errors="replace"))


def _processes_in(session: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "sid=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines()
            if line.split() and line.split()[0] == str(session) and "<defunct>" not in line]


def _left_after_a_while(session: int, timeout: float = 30) -> list[str]:
    """The processes of ``session`` still there once they had ``timeout`` seconds to end (on a loaded
    machine the last of them can take more than a second to go after ``make`` itself has ended)."""
    deadline = time.monotonic() + timeout
    while (left := _processes_in(session)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _start(tmp_path, port: int):
    env = {**os.environ, "LEARNING_INSTANCE_PATH": str(tmp_path), "PORT": str(port), "SEED_LEARNERS": "3",
           "PYTHONUNBUFFERED": "1"}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "FLASK_APP", "PYTEST_CURRENT_TEST", "PUBLIC_BASE_URL"):
        env.pop(name, None)
    master, slave = pty.openpty()

    def own_terminal():
        # A session of its own whose controlling terminal is the pty, as in a real terminal window:
        # Ctrl-C typed there reaches the foreground processes as SIGINT.
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        # A shell gives its foreground job Ctrl-C's default disposition; pytest-xdist's workers ignore
        # SIGINT, and an ignored signal stays ignored (make and bash could not trap it).
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    process = subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, stdin=slave,
                               stdout=slave, stderr=slave, preexec_fn=own_terminal, close_fds=True)
    os.close(slave)
    return process, master


def _wait_serving(master: int, port: int, seen: list[str]) -> None:
    _read_until(master, "Serving on", 240, seen)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                assert response.status == 200
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_workers_ready(log: Path, master: int, seen: list[str], timeout: float = 180) -> None:
    """Until both embedded workers say they are ready (the bulk one starts once the interactive one
    is): a busy machine takes longer than any fixed pause to start them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if text.count(" ready.") >= 2:
            return
        _drain(master, seen, 0.5)
    raise AssertionError(f"the workers did not say they were ready; their log:\n{text}")


def test_ctrl_c_stops_web_worker_and_beat_quietly(tmp_path):
    port = free_port()
    process, master = _start(tmp_path, port)
    seen: list[str] = []
    try:
        _wait_serving(master, port, seen)
        _wait_workers_ready(tmp_path / "worker.log", master, seen)
        os.write(master, b"\x03")  # Ctrl-C: the terminal sends SIGINT to the foreground processes
        # make itself also got the SIGINT and ends by it, as any program does on Ctrl-C; it says nothing.
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            _drain(master, seen, 0.5)  # read what they say meanwhile: a full terminal would block them
        assert process.poll() in (0, -signal.SIGINT), "".join(seen)
        _drain(master, seen, 2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        os.close(master)
    output = "".join(seen)
    assert "Stopped." in output
    for noise in ("Error", "Traceback", "Interrupt", "KeyboardInterrupt", "Terminated", "No hostname was supplied"):
        assert noise not in output, output
    assert _left_after_a_while(process.pid) == []  # no worker, beat or server left behind
    assert not (tmp_path / "run.pid").exists()


def test_make_stop_stops_a_platform_running_in_the_background(tmp_path):
    port = free_port()
    process, master = _start(tmp_path, port)
    seen: list[str] = []
    try:
        _wait_serving(master, port, seen)
        # PORT=… make run puts its own address in e-mailed links and certificates (PUBLIC_BASE_URL
        # unset), not the default :5000 that nothing serves.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lti/config", timeout=30) as response:
            config = json.load(response)
        assert config["launch_url"] == f"http://127.0.0.1:{port}/lti/launch", config["launch_url"]
        env = {**os.environ, "LEARNING_INSTANCE_PATH": str(tmp_path)}
        stopped = subprocess.run(["make", "--no-print-directory", "stop"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert stopped.returncode == 0 and "Stopped." in stopped.stdout
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        os.close(master)
    assert _left_after_a_while(process.pid) == []
    again = subprocess.run(["make", "--no-print-directory", "stop"], cwd=ROOT,
                           env={**os.environ, "LEARNING_INSTANCE_PATH": str(tmp_path)},
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "not running" in again.stdout
