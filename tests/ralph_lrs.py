"""Ralph's LRS (``ralph-malph[lrs]``, France Université Numérique's Learning Record Store) for the tests.

An LRS that is not ours: it is started as a subprocess (``uvicorn ralph.api:app``, which is what
``ralph runserver -b fs`` starts, without its file watcher; through tests/ralph_lrs_app.py, which makes
Ralph's file backend append, as its first write would otherwise be its only one) on a free loopback port, with its file-system
backend in a temporary folder and one basic-auth account in its ``auth.json`` (bcrypt hash, as
``ralph auth`` writes it). Its xAPI endpoint is ``http://127.0.0.1:PORT/xAPI``.

What Ralph does with a POST (ralph/api/routers/statements.py): validates every statement with its
pydantic models (one invalid statement refuses the batch with 400/422), refuses duplicate ids in a
batch (400), drops statements whose id it already has if they are equivalent (all known: 204 No
Content, else 200 with the new ids) and answers 409 Conflict if a known id comes with a different
statement (different actor, verb, object, result, context or timestamp).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt

REPOSITORY = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RalphLRS:
    """A running Ralph LRS; ``endpoint``, ``username`` and ``password`` are the platform's XAPI_* settings."""

    def __init__(self, folder: Path, username: str = "platform", password: str = "ralph-secret") -> None:
        self.folder, self.username, self.password = Path(folder), username, password
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "ralph.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> str:
        return f"{self.base}/xAPI"

    @property
    def lrs_file(self) -> Path:
        return self.folder / "data" / "fs_lrs.jsonl"

    def start(self, timeout: float = 180) -> RalphLRS:
        (self.folder / "data").mkdir(parents=True, exist_ok=True)
        (self.folder / "app").mkdir(exist_ok=True)
        auth = [{"username": self.username,
                 "hash": bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(4)).decode(),
                 "scopes": ["statements/write", "statements/read"],
                 "agent": {"account": {"homePage": "https://lrs.example.org", "name": self.username}}}]
        (self.folder / "auth.json").write_text(json.dumps(auth))
        self.port = free_port()
        env = {**os.environ, "RALPH_APP_DIR": str(self.folder / "app"),
               "RALPH_AUTH_FILE": str(self.folder / "auth.json"), "RALPH_RUNSERVER_BACKEND": "fs",
               "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.folder / "data"),
               "RALPH_SENTRY_DSN": "", "RALPH_RUNSERVER_AUTH_BACKENDS": "basic"}
        with self.log.open("wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "tests.ralph_lrs_app:app", "--app-dir", str(REPOSITORY),
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Ralph's LRS exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/__heartbeat__", timeout=2) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Ralph's LRS did not answer in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None,
                auth: tuple[str, str] | None = None) -> tuple[int, object]:
        """One request to Ralph, as any client would make it; (status, JSON body or None)."""
        user, password = auth or (self.username, self.password)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.base}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json",
                     "X-Experience-API-Version": "1.0.3", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                raw = answer.read()
                return answer.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def statements(self) -> list[dict]:
        """Every statement Ralph stored, as it answers ``GET /xAPI/statements`` (following ``more``)."""
        found: list[dict] = []
        path = "/xAPI/statements?limit=100"
        while path:
            status, body = self.request("GET", path)
            assert status == 200, (status, body)
            found += body["statements"]
            more = body.get("more")
            path = more if more else ""
        return found

    def lines_stored(self) -> int:
        """Lines in Ralph's file backend: one per statement written (a duplicate would be a second line)."""
        if not self.lrs_file.exists():
            return 0
        return sum(1 for line in self.lrs_file.read_text().splitlines() if line.strip())
